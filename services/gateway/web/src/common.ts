/* Small helpers the pages share: running an action with feedback, human numbers, files behind the token. */
import { ElMessage } from "element-plus";
import { ref as vref } from "vue";
import { ApiError, blobUrl, client, ok } from "./api/client";
import { i18n } from "./i18n";
import { state } from "./labels";

const t = (k: string) => i18n.global.t(k);

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.status === 403 ? t("forbidden") : e.text(state.lang);
  return e instanceof Error ? e.message : String(e);
}

/** Runs an action: a busy flag for its button, a message when done or failed. */
export function action() {
  const busy = vref(false);
  async function run(fn: () => Promise<unknown>, done: string | null = t("done")) {
    busy.value = true;
    try { await fn(); if (done) ElMessage.success(done); return true; } catch (e) {
      ElMessage.error(errorText(e)); return false;
    } finally { busy.value = false; }
  }
  return { busy, run };
}

/** Loads a page's data; `error` holds a message to show instead of the page. */
export function loader<T>(fn: () => Promise<T>) {
  const data = vref<T | null>(null);
  const error = vref("");
  const loading = vref(true);
  async function reload() {
    loading.value = true;
    try { data.value = (await fn()) as any; error.value = ""; } catch (e) { error.value = errorText(e); } finally { loading.value = false; }
  }
  reload();
  return { data, error, loading, reload };
}

const caseNos = new Map<string, Promise<string>>();
/** The case number (WH-…) of a case id, fetched once. */
export function caseNo(caseId: string): Promise<string> {
  if (!caseNos.has(caseId)) {
    caseNos.set(caseId, ok(client.GET("/api/v1/cases/{ref}", { params: { path: { ref: caseId } } }))
      .then((c) => c.case_no).catch(() => (state.lang === "zh" ? "案件" : "case")));
  }
  return caseNos.get(caseId)!;
}
export const rememberCaseNo = (id: string, no: string | null | undefined) => { if (no) caseNos.set(id, Promise.resolve(no)); };
/** An order's human number: its case's number and its position among the case's orders. */
export const orderNo = (caseNumber: string, seq: number) => `${caseNumber}-${seq}`;

const blobs = new Map<string, Promise<string>>();
export const fileUrl = (path: string) => { if (!blobs.has(path)) blobs.set(path, blobUrl(path)); return blobs.get(path)!; };

/** Uploads photos (shrunk in the browser to at most 1600 px, JPEG) and returns their attachment ids. */
export async function uploadPhotos(files: File[]): Promise<string[]> {
  const ids: string[] = [];
  for (const f of files) {
    const blob = await shrink(f);
    const fd = new FormData();
    fd.append("file", blob, f.name.replace(/\.\w+$/, "") + ".jpg");
    const r = await ok(client.POST("/api/v1/attachments", { body: fd as any, bodySerializer: (b: any) => b }));
    ids.push(r.id);
  }
  return ids;
}
async function shrink(f: File): Promise<Blob> {
  if (!f.type.startsWith("image/") || f.size < 200_000) return f;
  try {
    const img = await createImageBitmap(f);
    const s = Math.min(1, 1600 / Math.max(img.width, img.height));
    const c = document.createElement("canvas");
    c.width = Math.round(img.width * s); c.height = Math.round(img.height * s);
    c.getContext("2d")!.drawImage(img, 0, 0, c.width, c.height);
    return await new Promise<Blob>((res) => c.toBlob((b) => res(b || f), "image/jpeg", 0.82));
  } catch { return f; }
}

/** Countdown text to a deadline: "剩余 12分30秒" / "已超时 3分". */
export function countdown(due: string | null | undefined, now: number): { text: string; late: boolean } | null {
  if (!due) return null;
  let ms = new Date(due).getTime() - now;
  const late = ms < 0; ms = Math.abs(ms);
  const d = Math.floor(ms / 86400000), h = Math.floor(ms / 3600000) % 24, m = Math.floor(ms / 60000) % 60, s = Math.floor(ms / 1000) % 60;
  const zh = state.lang === "zh";
  const parts = zh ? [d && `${d}天`, (d || h) && `${h}小时`, `${m}分`, !d && `${s}秒`] : [d && `${d}d`, (d || h) && `${h}h`, `${m}m`, !d && `${s}s`];
  const body = parts.filter(Boolean).join(zh ? "" : " ");
  return { text: late ? `${t("overdueBy")} ${body}` : `${t("countdown")} ${body}`, late };
}

const positions = new Map<string, Promise<Map<string, number>>>();
/** An order's position among its case's orders (the lead first, then by creation): the API has no order number. */
export function orderPosition(caseId: string): Promise<Map<string, number>> {
  if (!positions.has(caseId)) {
    positions.set(caseId, ok(client.GET("/api/v1/orders", { params: { query: { case_id: caseId } } }))
      .then((os) => positionsOf(os)).catch(() => new Map()));
  }
  return positions.get(caseId)!;
}
export function positionsOf(os: { order_id: string; created_at: string; role: string }[]): Map<string, number> {
  const sorted = [...os].sort((a, b) => a.created_at.localeCompare(b.created_at) || (a.role === "lead" ? -1 : b.role === "lead" ? 1 : 0)
    || a.order_id.localeCompare(b.order_id));
  return new Map(sorted.map((o, i) => [o.order_id, i + 1]));
}
/** Who did something: a person's name, or "the system" for automatic steps. */
export const actorName = (a: unknown) => {
  const x = (a || {}) as { name?: string; kind?: string; id?: string };
  if (!x.name || x.name === "system" || x.kind === "system" || x.kind === "service") return x.kind || x.name ? (state.lang === "zh" ? "系统" : "system") : "";
  // an API key's name is the admin's label for a connected system (e.g. "demo:dept:QRSJ"): people see what it is
  if (x.kind === "api_key") return state.lang === "zh" ? "对接系统" : "connected system";
  return x.name;
};
