import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// The console is served by the gateway at /console/ from dist/ (see api/console.py).
export default defineConfig({
  base: "/console/",
  plugins: [vue()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1500, sourcemap: false },
});
