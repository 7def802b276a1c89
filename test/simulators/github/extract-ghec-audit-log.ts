/**
 * Regenerates test/fixtures/github/ghec-audit-log.json: the GitHub Enterprise Cloud "Get the audit log for an
 * organization" operation and every component it references, taken verbatim from @octokit/openapi's ghec.json.
 * The simulator validates that one route with it instead of loading a second 14 MB description.
 *
 *   npx tsx test/simulators/github/extract-ghec-audit-log.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const route = '/orgs/{org}/audit-log';
const ghec = JSON.parse(
  readFileSync(join(__dirname, '../../../node_modules/@octokit/openapi/generated/ghec.json'), 'utf8'),
) as {
  info: { version: string };
  paths: Record<string, Json>;
  components: Record<string, Record<string, Json>>;
};

const components: Record<string, Record<string, Json>> = {};
const pending: string[] = [];
function collectRefs(node: Json): void {
  if (Array.isArray(node)) node.forEach(collectRefs);
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') pending.push(value);
      else collectRefs(value);
    }
  }
}
collectRefs(ghec.paths[route]);
while (pending.length > 0) {
  const [, , kind, name] = pending.pop()!.split('/');
  if (components[kind]?.[name] !== undefined) continue;
  const component = ghec.components[kind][name];
  (components[kind] ??= {})[name] = component;
  collectRefs(component);
}

const fixture = {
  description: `Extracted from @octokit/openapi generated/ghec.json (${ghec.info.version}) by test/simulators/github/extract-ghec-audit-log.ts`,
  paths: { [route]: ghec.paths[route] },
  components,
};
writeFileSync(
  join(__dirname, '../../fixtures/github/ghec-audit-log.json'),
  `${JSON.stringify(fixture, null, 1)}\n`,
);
