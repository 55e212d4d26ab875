/* Every code a person might see, with its Chinese and English name. Event types come from the event registry
   (GET /screen/labels), categories, departments, grids and grades from the catalogue (GET /api/v1/catalogue);
   statuses, roles and audit actions have no endpoint yet, so they live here, in one typed table. */
import { reactive } from "vue";
import { client, ok, type Schemas } from "./api/client";

type Pair = readonly [zh: string, en: string];
type Table = Record<string, Pair>;

export const STATUS: Table = {
  // cases (intake, dispatch, analytics)
  reported: ["已上报", "reported"], accepted: ["已受理", "accepted"], queued: ["待人工派单", "waiting for dispatch"],
  routed: ["已派单", "routed"], new: ["新案件", "new"], reopened: ["重新办理", "reopened"], closed: ["已办结归档", "closed"],
  merged: ["已合并", "merged"], mediation: ["转调解", "in mediation"],
  // orders
  dispatched: ["已派发", "dispatched"], signed: ["已签收", "signed for"], on_site: ["已到场", "on site"],
  in_progress: ["处置中", "in progress"], resolved: ["已办结", "resolved"], verified: ["已核验", "verified"],
  returned: ["已退单", "returned"], cancelled: ["已撤销", "cancelled"], rework: ["返工", "rework"],
  // mediation, bookings, sessions, court applications
  open: ["办理中", "open"], booked: ["已预约", "booked"], agreed: ["已达成协议", "agreed"], applied: ["已申请司法确认", "applied to court"],
  failed: ["调解不成", "failed"], confirmed: ["已确认", "confirmed"], rescheduled: ["已改期", "rescheduled"],
  active: ["有效", "active"], pending: ["待签", "pending"], sealed: ["已封存", "sealed"], ready: ["待签名", "ready to sign"],
  submitted: ["已提交", "submitted"], material_requested: ["待补充材料", "material requested"], rejected: ["已驳回", "rejected"],
  // weak signals
  assigned: ["已指派", "assigned"], handled: ["已处理", "handled"], dismissed: ["已排除", "dismissed"],
};
export const ROLE: Table = {
  grid_worker: ["网格员", "grid worker"], dispatcher: ["调度员", "dispatcher"],
  department_officer: ["部门工作人员", "department officer"], mediator: ["调解员", "mediator"], party: ["当事人", "party"],
  leader: ["领导", "leader"], admin: ["系统管理员", "administrator"], department_system: ["部门系统", "department system"],
  service: ["内部服务", "internal service"], external_system: ["外部系统", "external system"], user: ["用户", "user"],
  api_key: ["接口密钥", "API key"], anonymous: ["匿名", "anonymous"], lead: ["牵头", "lead"], assist: ["协办", "assisting"],
  applicant: ["申请人", "applicant"], respondent: ["被申请人", "respondent"], department: ["部门", "department"],
};
export const GRADE: Table = { red: ["红色", "red"], orange: ["橙色", "orange"], yellow: ["黄色", "yellow"], blue: ["蓝色", "blue"] };
export const CHANNEL: Table = {
  grid: ["网格上报", "grid report"], hotline: ["12345热线", "hotline"], web: ["网上", "web"], app: ["移动端", "app"],
  wechat: ["微信", "WeChat"], open311: ["开放接口", "Open311"], external: ["外部系统", "external system"],
  petition: ["来访", "petition"], hall: ["大厅", "hall"], phone: ["电话", "phone"], demand: ["群众诉求", "demand"],
};
export const STAGE: Table = { sign_for: ["签收时限", "sign-for limit"], on_site: ["到场时限", "on-site limit"], resolve: ["办结时限", "result limit"] };
export const MODE: Table = { centre: ["中心调解", "at the centre"], home: ["上门调解", "home visit"] };
export const GENDER: Table = { male: ["男", "male"], female: ["女", "female"] };
export const DIALECT: Table = { 粤语: ["粤语", "Cantonese"], 普通话: ["普通话", "Mandarin"], 客家话: ["客家话", "Hakka"],
  潮汕话: ["潮汕话", "Teochew"], 四邑话: ["四邑话", "Siyi"], 台山话: ["台山话", "Taishanese"], 闽南话: ["闽南话", "Hokkien"] };
export const MEDIATOR_KIND: Table = { professional: ["专职调解员", "professional"], volunteer: ["志愿调解员", "volunteer"],
  lawyer: ["律师调解员", "lawyer"], judge: ["特邀调解员", "invited"], community: ["社区调解员", "community"] };
export const HANDED_TO: Table = { arbitration: ["转仲裁", "arbitration"], litigation: ["转诉讼", "litigation"], other: ["其他途径", "other"] };
export const RATING: Table = { satisfied: ["满意", "satisfied"], basically_satisfied: ["基本满意", "basically satisfied"],
  dissatisfied: ["不满意", "dissatisfied"] };
export const SIGNAL_SOURCE: Table = { rule: ["规则发现", "rule"], report: ["网格员报告", "grid report"], grid: ["网格员报告", "grid report"] };
/** Timeline kinds that are not topics of the event registry. */
export const KIND: Table = {
  "case.reported": ["上报", "reported"], "case.received": ["受理", "received"], "case.merged_in": ["合并同类诉求", "duplicate merged in"],
  escalated: ["督办", "escalated"], reminded: ["催办", "reminded"], overdue: ["超时", "overdue"],
};
const RESOURCE: Table = {
  cases: ["案件", "cases"], orders: ["工单", "orders"], attachments: ["附件", "attachments"], auth: ["登录", "login"],
  admin: ["系统管理", "administration"], dispatch: ["调度", "dispatch"], mediation: ["调解", "mediation"],
  analytics: ["统计", "analytics"], catalogue: ["目录", "catalogue"], webhooks: ["回调", "webhooks"],
  "weak-signal-reports": ["苗头隐患报告", "weak-signal reports"], open311: ["开放接口", "Open311"],
};
export const ACTION: Table = {
  "cases.grid-events": ["网格员上报事件", "grid event reported"], "cases.demands": ["登记群众诉求", "demand registered"],
  "cases.petitions": ["登记来访", "petition registered"], "cases.merge": ["合并案件", "cases merged"],
  "cases.regrade": ["调整等级", "grade changed"], "cases.rating": ["回访评价", "satisfaction rated"],
  "attachments.create": ["上传附件", "attachment uploaded"], "orders.sign-for": ["签收工单", "order signed for"],
  "orders.check-in": ["到场报到", "checked in on site"], "orders.progress": ["反馈进展", "progress reported"],
  "orders.resolve": ["办结工单", "order resolved"], "orders.return": ["退单", "order returned"],
  "orders.verify": ["核验工单", "order verified"], "auth.login": ["登录", "logged in"], "auth.logout": ["退出登录", "logged out"],
  "auth.refresh": ["刷新登录", "session refreshed"], "admin.users.create": ["新建用户", "user created"],
  "admin.users.update": ["修改用户", "user updated"], "admin.api-keys.create": ["新建接口密钥", "API key created"],
  "admin.api-keys.delete": ["吊销接口密钥", "API key revoked"], "admin.api_keys.revoke": ["吊销接口密钥", "API key revoked"],
  "admin.api_keys.create": ["新建接口密钥", "API key created"],
  "dispatch.cases.orders": ["人工派单", "manual dispatch"], "dispatch.cases.mediation": ["转调解", "referred to mediation"],
  "dispatch.rules.create": ["新建派单规则", "routing rule created"], "dispatch.rules.delete": ["停用派单规则", "routing rule retired"],
  "dispatch.rules.replace": ["修改派单规则", "routing rule changed"], "mediation.bookings.create": ["预约调解", "mediation booked"],
  "mediation.bookings": ["预约调解", "mediation booked"], "mediation.bookings.cancel": ["取消预约", "booking cancelled"],
  "mediation.bookings.reschedule": ["改期", "booking rescheduled"], "mediation.mediations.sessions": ["记录调解", "session recorded"],
  "mediation.mediations.agreement": ["生成调解协议", "agreement generated"], "mediation.mediations.failure": ["调解终结", "mediation failed"],
  "mediation.sessions.signatures": ["签名", "signed"], "mediation.sessions.otp": ["发送验证码", "code sent"],
  "mediation.court-applications": ["申请司法确认", "applied to court"], "mediation.court-applications.create": ["申请司法确认", "applied to court"],
  "analytics.weak-signals.status": ["研判苗头隐患", "weak signal triaged"], "weak-signal-reports.create": ["报告苗头隐患", "weak signal reported"],
  "analytics.exports": ["导出数据", "data exported"],
};
const VERB: Table = { create: ["新建", "create"], post: ["提交", "submit"], replace: ["修改", "replace"], update: ["修改", "update"],
  delete: ["删除", "delete"], get: ["查看", "view"] };

export const state = reactive({ lang: (localStorage.getItem("fq.lang") || "zh") as "zh" | "en" });
const pick = (p: Pair | undefined) => (p ? p[state.lang === "zh" ? 0 : 1] : undefined);
/** A code through a table; unknown codes get a generic word, never the raw key. */
export const lbl = (table: Table, code: string | null | undefined, unknown = "—") =>
  code == null || code === "" ? "" : pick(table[code]) ?? (state.lang === "zh" ? unknown === "—" ? "其他" : unknown : "other");

export const ref = reactive<{ catalogue: Schemas["CatalogueOut"] | null; events: Record<string, { zh: string; en: string }>;
  mediators: Schemas["MediatorOut"][] }>({ catalogue: null, events: {}, mediators: [] });

let loading: Promise<void> | null = null;
export function loadReference(): Promise<void> {
  loading ??= (async () => {
    const [cat, ev] = await Promise.all([ok(client.GET("/api/v1/catalogue")), ok(client.GET("/screen/labels"))]);
    ref.catalogue = cat;
    ref.events = ev as Record<string, { zh: string; en: string }>;
  })().catch((e) => { loading = null; throw e; });
  return loading;
}

const en = () => state.lang !== "zh";
export const eventLabel = (kind: string) => {
  const e = ref.events[kind];
  if (e) return en() ? e.en : e.zh;
  return lbl(KIND, kind, "办理记录");
};
export const actionLabel = (a: string) => {
  const known = pick(ACTION[a]);
  if (known) return known;
  const segs = a.split(".");
  const res = pick(RESOURCE[segs[0]]) ?? (en() ? "other" : "其他");
  const verb = pick(VERB[segs[segs.length - 1]]) ?? (en() ? "operation" : "操作");
  return en() ? `${res}: ${verb}` : `${res}·${verb}`;
};
export const deptName = (code?: string | null) => {
  if (!code) return "";
  const d = ref.catalogue?.departments.find((x) => x.code === code);
  return d ? d.name : en() ? "department" : "部门";
};
export const domainName = (code?: string | null) => {
  if (!code) return "";
  const d = ref.catalogue?.domains.find((x) => x.code === code);
  return d ? d.name : en() ? "other" : "其他";
};
export const gridName = (code?: string | null) => {
  if (!code) return "";
  const g = ref.catalogue?.grids.find((x) => x.code === code);
  return g ? g.name : code;
};
export const communityName = (code?: string | null) => {
  if (!code) return "";
  const c = ref.catalogue?.communities.find((x) => x.code === code);
  return c ? c.name : "";
};
export const gradeName = (g?: string | null) => lbl(GRADE, g);
export const statusName = (s?: string | null) => lbl(STATUS, s);
export const roleName = (r?: string | null) => lbl(ROLE, r);
export const fmt = (ts?: string | null) =>
  ts ? new Date(ts).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "";

/** Mediation categories the pool uses that the catalogue has no domain for. */
export const MED_CATEGORY: Table = { property: ["物业纠纷", "property management"], medical: ["医疗纠纷", "medical disputes"],
  traffic: ["交通事故纠纷", "traffic accidents"] };
Object.assign(MEDIATOR_KIND, { deputy_member: ["人大代表、政协委员", "deputy or committee member"],
  public_official: ["公职人员", "public official"], cross_river: ["跨境调解员", "cross-border mediator"] });
export const medCategoryName = (code?: string | null) =>
  !code ? "" : ref.catalogue?.domains.find((x) => x.code === code)?.name && state.lang === "zh"
    ? ref.catalogue!.domains.find((x) => x.code === code)!.name
    : MED_CATEGORY[code] ? lbl(MED_CATEGORY, code) : domainName(code);

/** A catalogue duration ("15m", "24h", "3d", "7wd") in words. */
export const duration = (d?: string | null) => {
  const m = /^(\d+)(m|h|d|wd)$/.exec(d || "");
  if (!m) return d || "";
  const zh = { m: "分钟", h: "小时", d: "天", wd: "个工作日" }[m[2]]!;
  const en = { m: "min", h: "h", d: "days", wd: "working days" }[m[2]]!;
  return state.lang === "zh" ? `${m[1]}${zh}` : `${m[1]} ${en}`;
};
