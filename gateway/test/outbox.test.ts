import { MemoryOutbox } from '../src/outbox.ts';
import { outboxContract } from './outboxContract.ts';

outboxContract('memory', ({ maxRecords }) => new MemoryOutbox(maxRecords));
