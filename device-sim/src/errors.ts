import { CodedError } from '../../runtime/src/errors.ts';

/** The simulator's failure modes; catalogued in device-sim/README.md. */
export const SIM_ERR = {
  /** An entry of SIM_EXTRA_DISTRICTS is not `id:nameEn:code`. */
  BAD_DISTRICT: 'SIM_ERR_BAD_DISTRICT',
  /** SIM_SCHOOLS names a school the fleet does not have. */
  UNKNOWN_SCHOOL: 'SIM_ERR_UNKNOWN_SCHOOL',
  /** SIM_INVENTORY's file has rows the hub would refuse. */
  BAD_INVENTORY: 'SIM_ERR_BAD_INVENTORY',
} as const;

export class SimError extends CodedError {}
