/**
 * Builds the console and the browser phone (web/) into `dist/web/`, served under `/console/assets/`:
 *
 *   dist/web/index.html                      the one page (client-side routes)
 *   dist/web/assets/console-[hash].js        web/console/main.tsx (Preact), minified, + .map
 *   dist/web/assets/console-[hash].css       web/console/styles.css, minified, + .map
 *   dist/web/assets/capture-worklet.js       web/phone/capture-worklet.ts (AudioWorklet module), + .map
 *   dist/web/assets/playback-worklet.js      web/phone/playback-worklet.ts (AudioWorklet module), + .map
 *
 * `npx tsx scripts/build-web.ts [outDir]`, or `buildWeb(outDir)` from code. No CDN: everything is in the bundle.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type BuildOptions, type Metafile } from 'esbuild';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** Where the server serves `dist/web/assets/`. */
export const ASSETS_URL = '/console/assets/';

const common: BuildOptions = {
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
  absWorkingDir: ROOT,
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
};

/** The output of an entry point, as a file name under assets/. */
function outputOf(metafile: Metafile, entry: string, ext: string): string {
  for (const [output, info] of Object.entries(metafile.outputs)) {
    if (info.entryPoint === entry && output.endsWith(ext)) return basename(output);
  }
  throw new Error(`build-web: no ${ext} output for ${entry}`);
}

const escapeAttr = (value: string): string => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

export function indexHtml(scriptFile: string, styleFile: string): string {
  const script = escapeAttr(ASSETS_URL + scriptFile);
  const style = escapeAttr(ASSETS_URL + styleFile);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>callbridge console</title>
<link rel="stylesheet" href="${style}">
<script type="module" src="${script}"></script>
</head>
<body>
<div id="app"><noscript>The callbridge console needs JavaScript.</noscript></div>
</body>
</html>
`;
}

export async function buildWeb(outDir = 'dist/web'): Promise<void> {
  const out = resolve(ROOT, outDir);
  const assets = join(out, 'assets');
  // Old hashed bundles would pile up: start the assets directory afresh.
  await rm(assets, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  const consoleEntry = 'web/console/main.tsx';
  const styleEntry = 'web/console/styles.css';
  const [app] = await Promise.all([
    build({
      ...common,
      entryPoints: [consoleEntry, styleEntry],
      entryNames: 'console-[hash]',
      outdir: assets,
      jsx: 'automatic',
      jsxImportSource: 'preact',
    }),
    build({
      ...common,
      entryPoints: ['web/phone/capture-worklet.ts', 'web/phone/playback-worklet.ts'],
      entryNames: '[name]',
      outdir: assets,
    }),
  ]);
  const { metafile } = app;
  if (metafile === undefined) throw new Error('build-web: esbuild returned no metafile');
  const html = indexHtml(outputOf(metafile, consoleEntry, '.js'), outputOf(metafile, styleEntry, '.css'));
  await writeFile(join(out, 'index.html'), html);
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && import.meta.url === pathToFileURL(resolve(invokedAs)).href) {
  const started = performance.now();
  const outDir = process.argv[2] ?? 'dist/web';
  buildWeb(outDir).then(
    () => console.log(`web built into ${relative(process.cwd(), resolve(ROOT, outDir)) || '.'} in ${Math.round(performance.now() - started)} ms`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
