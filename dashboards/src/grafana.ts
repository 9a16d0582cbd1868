import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import { CustomVariableBuilder, QueryVariableBuilder, VariableRefresh, VariableSort } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Select } from '../../storage/src/influxql.ts';
import { DEVICE_KINDS } from '../../protocol/src/kinds.ts';

/** The InfluxDB datasource every panel and rule uses, by its fixed uid (provisioned in datasources/). */
export const DATASOURCE: common.DataSourceRef = { type: 'influxdb', uid: 'campus-influxdb' };

/** Grafana's InfluxDB (InfluxQL) query model, in raw query mode. */
export interface InfluxQLQuery {
  refId: string;
  datasource: common.DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  alias?: string;
  hide?: boolean;
}

/**
 * The foundation SDK has no InfluxDB query builder: this is one, for raw InfluxQL built with
 * storage/src/influxql.ts.
 */
export class InfluxQLTarget implements cog.Builder<cog.Dataquery> {
  readonly #q: InfluxQLQuery;

  constructor(refId: string, select: Select, format: 'time_series' | 'table' = 'time_series') {
    this.#q = { refId, datasource: DATASOURCE, query: select.sql, rawQuery: true, resultFormat: format };
  }

  /** Series name in the legend, e.g. `$tag_district` or `$tag_school $col`. */
  alias(alias: string): this {
    this.#q.alias = alias;
    return this;
  }

  build(): cog.Dataquery {
    return { ...this.#q } as unknown as cog.Dataquery;
  }
}

/** "All" selected: Grafana's marker value. */
const ALL = { selected: true, text: 'All', value: '$__all' };

const tagValues = (key: string, where = '') => `SHOW TAG VALUES FROM "inventory" WITH KEY = "${key}"${where}`;

/** District: from the registry's inventory, so districts with no data yet are listed too. */
export function districtVariable(opts: { multi: boolean }): QueryVariableBuilder {
  return new QueryVariableBuilder('district')
    .label('District')
    .datasource(DATASOURCE)
    .query(tagValues('district'))
    .definition(tagValues('district'))
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(opts.multi)
    .includeAll(opts.multi)
    .current(opts.multi ? ALL : { text: '', value: '' });
}

/** School, narrowed to the selected districts. */
export function schoolVariable(opts: { multi: boolean }): QueryVariableBuilder {
  const q = tagValues('school', ' WHERE "district" =~ /^$district$/');
  return new QueryVariableBuilder('school')
    .label('School')
    .datasource(DATASOURCE)
    .query(q)
    .definition(q)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(opts.multi)
    .includeAll(opts.multi)
    .current(opts.multi ? ALL : { text: '', value: '' });
}

/** Device kind: the four kinds the protocol defines. */
export function kindVariable(): CustomVariableBuilder {
  return new CustomVariableBuilder('kind').label('Device kind').values(DEVICE_KINDS.join(',')).multi(true).includeAll(true).current(ALL);
}

/** Grid position helper: width w, height h at column x, row y (24 columns). */
export const at = (x: number, y: number, w: number, h: number) => ({ x, y, w, h });
