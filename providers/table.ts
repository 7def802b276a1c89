import type { ProviderDefinition } from './plugin';

const HEADER = ['provider', 'roles', 'what it does', 'configured by', 'references'];

const code = (text: string): string => `\`${text}\``;

/** The README's provider table, one row per list entry: what each system does and what turns it on. */
export function providerTableRows(definitions: readonly ProviderDefinition[]): string[][] {
  return definitions.map((definition) => [
    code(definition.name),
    definition.roles.join(', '),
    definition.summary,
    definition.settings.map(code).join(', ') || 'always on',
    Object.values(definition.examples).map(code).join(', '),
  ]);
}

export function providerTableMarkdown(definitions: readonly ProviderDefinition[]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...providerTableRows(definitions).map(line)].join(
    '\n',
  );
}

export const TABLE_START =
  '<!-- providers:start (generated from providers/index.ts: npm run docs:providers) -->';
export const TABLE_END = '<!-- providers:end -->';

/** `text` with the block between the markers replaced by the table. */
export function withProviderTable(text: string, definitions: readonly ProviderDefinition[]): string {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start === -1 || end < start)
    throw new Error(`README.md: the markers ${TABLE_START} … ${TABLE_END} are missing`);
  return `${text.slice(0, start + TABLE_START.length)}\n\n${providerTableMarkdown(definitions)}\n\n${text.slice(end)}`;
}

/** The table's rows as README.md has them, cells trimmed: Prettier pads the columns. */
export function readmeTableRows(text: string): string[][] {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start === -1 || end < start) return [];
  return text
    .slice(start + TABLE_START.length, end)
    .split('\n')
    .filter((row) => row.startsWith('|'))
    .slice(2)
    .map((row) =>
      row
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}
