import { createRouter, createWebHashHistory, type RouteRecordRaw } from "vue-router";
import { has, session } from "./session";

const r = (path: string, load: () => Promise<any>, roles: string[] = []): RouteRecordRaw =>
  ({ path, component: load, meta: { roles } });

const routes: RouteRecordRaw[] = [
  r("/login", () => import("./views/LoginView.vue")),
  r("/", () => import("./views/HomeView.vue")),
  r("/home", () => import("./views/HomeView.vue")),
  r("/report", () => import("./views/ReportView.vue"), ["grid_worker"]),
  r("/my", () => import("./views/SearchView.vue"), ["grid_worker"]),
  r("/search", () => import("./views/SearchView.vue"), ["dispatcher", "leader", "department_officer", "mediator"]),
  r("/case/:ref", () => import("./views/CaseView.vue")),
  r("/board/:tab?", () => import("./views/BoardView.vue"), ["dispatcher", "leader"]),
  r("/signals", () => import("./views/SignalsView.vue"), ["dispatcher", "leader"]),
  r("/inbox", () => import("./views/InboxView.vue"), ["department_officer"]),
  r("/mediation", () => import("./views/MediationList.vue"), ["mediator", "party", "dispatcher"]),
  r("/mediation/:id", () => import("./views/MediationDetail.vue"), ["mediator", "party", "dispatcher"]),
  r("/admin/:tab?", () => import("./views/AdminView.vue"), ["admin"]),
  r("/screen", () => import("./views/ScreenView.vue")),
  { path: "/:rest(.*)*", redirect: "/home" },
];

export const router = createRouter({ history: createWebHashHistory(), routes });
router.beforeEach((to) => {
  if (!session.tokens && to.path !== "/login") return "/login";
  const roles = (to.meta.roles as string[]) || [];
  if (roles.length && !has(...roles)) return "/home";
  return true;
});
