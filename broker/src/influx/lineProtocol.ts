// The line-protocol encoder is the storage schema's (storage/src/lineProtocol.ts); this path
// stays while hub.ts imports it from here.
export * from '../../../storage/src/lineProtocol.ts';
