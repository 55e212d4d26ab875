import ElementPlus from "element-plus";
import "element-plus/dist/index.css";
import { createApp } from "vue";
import App from "./App.vue";
import { i18n } from "./i18n";
import { router } from "./router";
import "./style.css";

createApp(App).use(i18n).use(router).use(ElementPlus).mount("#app");

// Element Plus' scroll containers (wide tables on a phone) can be scrolled with the keyboard once focusable
new MutationObserver(() => {
  document.querySelectorAll<HTMLElement>(".el-scrollbar__wrap:not([tabindex])").forEach((el) => {
    el.tabIndex = 0;
    el.setAttribute("role", "region");
    el.setAttribute("aria-label", document.documentElement.lang === "zh-CN" ? "可滚动区域" : "scrollable area");
  });
}).observe(document.body, { childList: true, subtree: true });
