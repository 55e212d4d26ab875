/* Who is logged in (tokens in sessionStorage) and what they may do. */
import { reactive } from "vue";
import type { components } from "./api/schema";

type Tokens = components["schemas"]["TokensOut"];
export const session = reactive<{ tokens: Tokens | null }>({
  tokens: JSON.parse(sessionStorage.getItem("fq.tokens") || "null"),
});

export function saveTokens(t: Tokens | null) {
  session.tokens = t;
  if (t) sessionStorage.setItem("fq.tokens", JSON.stringify(t));
  else sessionStorage.removeItem("fq.tokens");
}

export const user = () => session.tokens?.user ?? null;
/** Has one of these roles (the admin may do everything). */
export const has = (...roles: string[]) => !!user() && user()!.roles.some((r) => roles.includes(r) || r === "admin");
