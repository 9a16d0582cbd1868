import type { CommandSpec } from '../command.ts';
import { deviceCommands } from './devices.ts';
import { gatewayCommands } from './gateways.ts';
import { orgCommands } from './org.ts';
import { remoteCommands } from './remote.ts';

/** Every command, in the order `campus --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [...orgCommands, ...gatewayCommands, ...deviceCommands, ...remoteCommands];
