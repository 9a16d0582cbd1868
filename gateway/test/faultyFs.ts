import * as nodeFs from 'node:fs';
import type { OutboxFs } from '../src/fileOutbox.ts';

/**
 * node:fs with one fault switch at the process edge: while `full` is set, writes to the
 * acknowledgement log fail as on a full disk (ENOSPC).
 */
export function diskFullOnAcks(): { fs: OutboxFs; full: boolean; failures: number } {
  const acksFds = new Set<number>();
  const state = {
    full: false,
    failures: 0,
    fs: {
      ...nodeFs,
      openSync: ((path: nodeFs.PathLike, ...rest: unknown[]) => {
        const fd = (nodeFs.openSync as (...a: unknown[]) => number)(path, ...rest);
        if (String(path).endsWith('acks.log')) acksFds.add(fd);
        return fd;
      }) as typeof nodeFs.openSync,
      writeSync: ((fd: number, ...rest: unknown[]) => {
        if (state.full && acksFds.has(fd)) {
          state.failures++;
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
        }
        return (nodeFs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
      }) as typeof nodeFs.writeSync,
    } as OutboxFs,
  };
  return state;
}
