import { describe, expect, it } from 'vitest';
import { timeFilter } from '../src/influxql.ts';
import { availabilityQuery, registeredDeviceMinutes, registeredQuery } from '../src/queries.ts';

const RANGE = { fromMs: 60_000, toMs: 120_000 };

describe('figure queries over an explicit range and over Grafana\'s macro', () => {
  it('registered device-minutes: Σ devices of inventory, grouped, in the range', () => {
    expect(registeredQuery(RANGE, ['district'])).toBe('SELECT sum("devices") AS "registered" FROM "inventory" WHERE time >= 60000ms AND time < 120000ms GROUP BY "district"');
    expect(registeredDeviceMinutes(timeFilter, ['district', 'school']).sql).toBe('SELECT sum("devices") AS "registered" FROM "inventory" WHERE $timeFilter GROUP BY "district", "school"');
  });

  it('availability sums over the same range, with a filter quoted as a literal', () => {
    expect(availabilityQuery(RANGE, ['school'], { district: "渝中'区" })).toBe(
      'SELECT sum("up_expected") AS "up", sum("expected") AS "expected", count("up") AS "observed" FROM "availability" WHERE time >= 60000ms AND time < 120000ms AND "district" = \'渝中\\\'区\' GROUP BY "school"',
    );
  });
});
