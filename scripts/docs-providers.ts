// Rewrites README.md's provider table from the provider list (providers/index.ts), then lets Prettier pad it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROVIDERS } from '../providers';
import { withProviderTable } from '../providers/table';

const readme = join(__dirname, '..', 'README.md');
writeFileSync(readme, withProviderTable(readFileSync(readme, 'utf8'), PROVIDERS));
