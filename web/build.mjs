// Bundles src/ into ../llm_platform/web/static (content-hashed names + manifest.json).
// Run by `make install` (npm ci && npm run build); the output is not committed.
import { build } from "esbuild";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, "../llm_platform/web/static");

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

const result = await build({
  entryPoints: { app: path.join(here, "src/main.tsx") },
  bundle: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
});

const files = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
const js = files.find((f) => f.startsWith("app-") && f.endsWith(".js"));
const css = files.find((f) => f.startsWith("app-") && f.endsWith(".css"));
if (!js || !css) throw new Error(`bundle incomplete: ${files.join(", ")}`);
await writeFile(
  path.join(outdir, "manifest.json"),
  JSON.stringify({ js, css, files: files.sort() }, null, 2) + "\n",
);
console.log(`web bundle: ${files.length} files in ${path.relative(process.cwd(), outdir)}`);
