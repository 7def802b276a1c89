/**
 * jest.config.js does not yet transform two ESM-only packages that Octokit pulls in (`content-type@3`,
 * `universal-github-app-jwt`). Until it does, point `content-type` at the API-identical CommonJS copy that
 * body-parser ships, and stub the JWT library: the GitHub provider signs its own App JWTs (`createJwt`) and never
 * calls it. Import this module before anything that loads Octokit. Plain Node (tsx) needs none of this.
 */
import { join } from 'node:path';

jest.mock('content-type', () =>
  jest.requireActual<object>(join(__dirname, '../../../node_modules/body-parser/node_modules/content-type')),
);
jest.mock('universal-github-app-jwt', () => ({
  __esModule: true,
  default: () => {
    throw new Error('universal-github-app-jwt is not used: the provider signs App JWTs itself');
  },
}));
