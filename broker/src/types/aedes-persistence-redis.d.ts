// aedes-persistence-redis ships no types: the factory as the hub calls it (persistence.js).
declare module 'aedes-persistence-redis' {
  import type { AedesPersistence } from 'aedes-persistence';
  import type { Redis } from 'ioredis';
  function aedesPersistenceRedis(opts?: { conn?: Redis; maxSessionDelivery?: number; packetTTL?: () => number }): AedesPersistence;
  export default aedesPersistenceRedis;
}
