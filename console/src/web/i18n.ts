/** Labels in Chinese and English; the choice is remembered in localStorage. */

export type Lang = 'zh' | 'en';
export const LANG_KEY = 'campus-console.lang';

const LABELS = {
  appName: ['校园物联网控制台', 'Campus IoT console'],
  skip: ['跳到正文', 'Skip to content'],
  switchLang: ['English', '中文'],
  switchLangLabel: ['Switch to English', '切换到中文'],
  signIn: ['登录', 'Sign in'],
  signOut: ['退出', 'Sign out'],
  userId: ['用户名', 'User ID'],
  password: ['密码', 'Password'],
  signInFailed: ['用户名或密码错误', 'Wrong user ID or password'],
  backoff: ['失败次数过多，请 {s} 秒后再试', 'Too many failed attempts: try again in {s} s'],
  signedInAs: ['已登录：', 'Signed in as '],
  overview: ['概览', 'Overview'],
  devices: ['设备', 'Devices'],
  gateways: ['网关', 'Gateways'],
  inventory: ['资产清单', 'Inventory'],
  school: ['学校', 'School'],
  district: ['区县', 'District'],
  room: ['教室', 'Room'],
  kind: ['类型', 'Kind'],
  state: ['状态', 'State'],
  since: ['起始时间', 'Since'],
  id: ['编号', 'ID'],
  model: ['型号', 'Model'],
  vendor: ['厂商', 'Vendor'],
  serial: ['序列号', 'Serial'],
  gateway: ['网关', 'Gateway'],
  all: ['全部', 'All'],
  search: ['搜索', 'Search'],
  searchHint: ['编号、型号、厂商或序列号', 'ID, model, vendor or serial'],
  prev: ['上一页', 'Previous'],
  next: ['下一页', 'Next'],
  pageN: ['第 {n} 页', 'Page {n}'],
  loading: ['加载中…', 'Loading…'],
  none: ['无', 'None'],
  noDevices: ['没有符合条件的设备', 'No devices match'],
  total: ['合计', 'Total'],
  'state.up': ['在线', 'up'],
  'state.down': ['故障', 'down'],
  'state.off': ['关机', 'off'],
  'state.unknown': ['未知', 'unknown'],
  'kind.interactive_board': ['交互式白板', 'Interactive board'],
  'kind.classroom_av': ['教室音视频', 'Classroom AV'],
  'kind.vr_kit': ['VR 套件', 'VR kit'],
  'kind.network_node': ['网络节点', 'Network node'],
  availability24h: ['24 小时可用率', 'Availability, 24 h'],
  coverage: ['覆盖率', 'Coverage'],
  bandwidthNow: ['上行带宽（当前）', 'Uplink bandwidth now'],
  capacity: ['容量', 'Capacity'],
  inbound: ['下行', 'In'],
  outbound: ['上行', 'Out'],
  gatewaysOffline: ['离线网关', 'Gateways offline'],
  devicesByState: ['设备状态', 'Devices by state'],
  chartAvailability: ['可用率，每 2 小时', 'Availability per 2 h'],
  bandwidthToday: ['今日上行带宽', 'Uplink bandwidth today'],
  roomsGrid: ['教室与设备', 'Rooms and devices'],
  lastTelemetry: ['最近遥测', 'Last telemetry'],
  noTelemetry: ['尚无遥测', 'No telemetry yet'],
  reportedAt: ['上报时间', 'Reported at'],
  stateChanges: ['今日状态变化（本页打开以来）', 'State changes today (since this page opened)'],
  commands: ['命令', 'Commands'],
  'action.reboot': ['重启', 'Reboot'],
  'action.power_on': ['开机', 'Power on'],
  'action.power_off': ['关机', 'Power off'],
  'action.standby': ['待机', 'Standby'],
  'status.sent': ['已发送', 'sent'],
  'status.done': ['完成', 'done'],
  'status.failed': ['失败', 'failed'],
  'status.expired': ['已过期', 'expired'],
  'status.rejected': ['被拒绝', 'rejected'],
  'status.no_result': ['无结果', 'no_result'],
  action: ['操作', 'Action'],
  status: ['结果', 'Status'],
  detail: ['详情', 'Detail'],
  issuedAt: ['发出时间', 'Issued'],
  actor: ['操作人', 'Actor'],
  outcome: ['结果', 'Outcome'],
  at: ['时间', 'At'],
  audit: ['命令审计', 'Command audit'],
  connection: ['连接', 'Connection'],
  'connection.online': ['在线', 'online'],
  'connection.offline': ['离线', 'offline'],
  'connection.never': ['从未连接', 'never'],
  bdSeq: ['bdSeq', 'bdSeq'],
  outboxBacklog: ['待发记录', 'Outbox backlog'],
  outboxAge: ['最旧记录时长', 'Oldest record age'],
  lastUplink: ['最近上行成功', 'Last uplink'],
  replay: ['补传进度', 'Replay'],
  replayIdle: ['无', 'idle'],
  replayRemaining: ['剩余 {n} 条', '{n} remaining'],
  revoked: ['已吊销', 'revoked'],
  refresh: ['刷新', 'Refresh'],
  importCsv: ['导入 CSV', 'Import CSV'],
  csvFile: ['CSV 文件', 'CSV file'],
  csvText: ['CSV 内容', 'CSV text'],
  dryRun: ['仅检查，不写入', 'Check only, write nothing'],
  doImport: ['导入', 'Import'],
  exportCsv: ['导出 CSV', 'Export CSV'],
  imported: ['新增 {c}，更新 {u}，未变 {n}', 'created {c}, updated {u}, unchanged {n}'],
  rowErrors: ['行错误', 'Row errors'],
  line: ['行', 'Line'],
  column: ['列', 'Column'],
  code: ['代码', 'Code'],
  reason: ['原因', 'Reason'],
  refusedTitle: ['无法打开此页', 'This page cannot be shown'],
  refused404: ['不存在，或不在您的管理范围内。', 'It does not exist, or it is outside your scope.'],
  refused403: ['您的角色不允许此操作。', 'Your role does not allow this.'],
  backToOverview: ['返回概览', 'Back to the overview'],
  error: ['出错了：', 'Something went wrong: '],
  live: ['实时', 'live'],
  liveLost: ['实时连接中断，正在重连', 'Live updates interrupted, reconnecting'],
  notInApi: ['接口未提供', 'not offered by the API'],
  sortBy: ['按此列排序', 'Sort by this column'],
} as const satisfies Record<string, readonly [string, string]>;

export type LabelKey = keyof typeof LABELS;

/** A label in `lang`, with `{name}` placeholders filled. */
export function label(lang: Lang, key: LabelKey | string, vars: Record<string, string | number> = {}): string {
  const pair = (LABELS as Record<string, readonly [string, string]>)[key];
  const text = pair ? pair[lang === 'zh' ? 0 : 1] : key;
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}

export function storedLang(store: Pick<Storage, 'getItem'> | undefined): Lang {
  const v = store?.getItem(LANG_KEY);
  return v === 'en' ? 'en' : 'zh';
}

/** A registered name in the language shown; the other one where that one was left empty. */
export const nameOf = (lang: Lang, r: { nameZh: string; nameEn: string }): string => (lang === 'zh' ? r.nameZh || r.nameEn : r.nameEn || r.nameZh);

export const LABEL_KEYS = Object.keys(LABELS) as LabelKey[];
export const labelPair = (key: LabelKey): readonly [string, string] => LABELS[key];
