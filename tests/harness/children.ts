/**
 * Every child process a test starts is tracked (runtime/src/children.ts), so it is killed when
 * the test process exits for any reason, never left running.
 */
export { stopChild, track } from '../../runtime/src/children.ts';
