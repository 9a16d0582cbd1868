/** The port helpers are product code (runtime/src/ports.ts); tests import them from here. */
export { freePort, waitFor } from '../../runtime/src/ports.ts';
