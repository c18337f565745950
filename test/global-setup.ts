/**
 * Builds the console's pages once before the tests (the browser tests load them from dist/web, as a deployed server
 * does after `npm run build`). esbuild takes well under a second.
 */
import { buildWeb } from '../scripts/build-web.js';

export default async function setup(): Promise<void> {
  await buildWeb();
}
