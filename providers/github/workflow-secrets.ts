import {
  isAlias,
  isPair,
  isScalar,
  parseDocument,
  Parser,
  visit,
  type Document,
  type Node,
  type Pair,
} from 'yaml';
import { parseSecretTarget, type RepositoryRef } from './refs';

/**
 * Which Actions secrets a workflow file can read, judged from its text. The file comes from the repository, so
 * whoever can push to it controls it: it is only ever matched as text (and parsed as YAML, aliases not expanded),
 * never evaluated, and its size is bounded by the caller. Where the text leaves any doubt (an index computed at run
 * time, the whole `secrets` context handed on, YAML this parser refuses) the workflow counts as reading the secret:
 * a wrong guess then disables one workflow too many, never one too few.
 */

/** Why a workflow counts as reading the secret, as the step summary shows it. */
export type SecretUse = { reads: true; by: string } | { reads: false };

/** Workflow files larger than this are not read: they count as reading every secret. GitHub's own are far smaller. */
export const MAX_WORKFLOW_FILE_BYTES = 256 * 1024;

const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_-]*/y;
const LITERAL = /[A-Za-z0-9_-]*/y;
const SECRETS_WORD = /\bsecrets\b/gi;
const INHERIT = /\bsecrets["']?\s*:\s*["']?inherit\b/i;
const TO_JSON_BEFORE = /toJSON\s*\(\s*$/i;

function skipSpaces(text: string, from: number): number {
  let index = from;
  while (index < text.length && /\s/.test(text[index])) index += 1;
  return index;
}

/** `[start, end)` of every `${{ … }}` in the text, in order. */
function expressionSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let from = 0;
  for (;;) {
    const start = text.indexOf('${{', from);
    if (start < 0) return spans;
    const end = text.indexOf('}}', start + 3);
    if (end < 0) {
      spans.push([start, text.length]);
      return spans;
    }
    spans.push([start, end + 2]);
    from = end + 2;
  }
}

/**
 * The uses of the `secrets` context in a piece of text. Inside an expression (`${{ … }}`, or the whole text when
 * `wholeIsExpression`: the value of an `if:`) any use but a literal name may read every secret; outside one, only a
 * literal `secrets.NAME` counts (a shell array `${secrets[@]}`, a step called "Load secrets" do not).
 */
function scanText(text: string, names: ReadonlySet<string>, wholeIsExpression: boolean): SecretUse {
  if (INHERIT.test(text)) return { reads: true, by: 'secrets: inherit' };
  const spans = wholeIsExpression ? [] : expressionSpans(text);
  let span = 0;
  let resumeAt = 0;
  for (const match of text.matchAll(SECRETS_WORD)) {
    const at = match.index;
    if (at < resumeAt) continue; // inside a name already read
    while (span < spans.length && spans[span][1] <= at) span += 1;
    const inExpression = wholeIsExpression || (span < spans.length && spans[span][0] <= at);
    const named = literalName(text, at + match[0].length);
    if (named) {
      resumeAt = named.end;
      if (names.has(named.name.toUpperCase()))
        return { reads: true, by: `secrets.${named.name.toUpperCase()}` };
      continue;
    }
    if (!inExpression) continue;
    const next = skipSpaces(text, at + match[0].length);
    if (text[next] === '.') {
      return text[skipSpaces(text, next + 1)] === '*'
        ? { reads: true, by: 'secrets.*' }
        : { reads: true, by: 'secrets.<unreadable name>' };
    }
    // An index computed at run time (`secrets[matrix.name]`, `secrets[format(…)]`) can name any secret.
    if (text[next] === '[') return { reads: true, by: 'secrets[<expression>]' };
    const before = text.slice(Math.max(0, at - 64), at);
    if (TO_JSON_BEFORE.test(before)) return { reads: true, by: 'toJSON(secrets)' };
    return { reads: true, by: 'the whole secrets context' };
  }
  return { reads: false };
}

/** `.NAME`, `['NAME']` or `["NAME"]` right after `secrets` (spaces allowed), and where it ends. */
function literalName(text: string, from: number): { name: string; end: number } | undefined {
  let next = skipSpaces(text, from);
  if (text[next] === '.') {
    IDENTIFIER.lastIndex = skipSpaces(text, next + 1);
    const name = IDENTIFIER.exec(text)?.[0];
    return name === undefined ? undefined : { name, end: IDENTIFIER.lastIndex };
  }
  if (text[next] !== '[') return undefined;
  next = skipSpaces(text, next + 1);
  const quote = text[next];
  if (quote !== "'" && quote !== '"') return undefined;
  LITERAL.lastIndex = next + 1;
  const name = LITERAL.exec(text)?.[0];
  if (name === undefined || text[LITERAL.lastIndex] !== quote) return undefined;
  const close = skipSpaces(text, LITERAL.lastIndex + 1);
  return text[close] === ']' ? { name, end: close + 1 } : undefined;
}

function scalarText(node: unknown, document: Document): string | undefined {
  const resolved = isAlias(node) ? node.resolve(document) : node;
  return isScalar(resolved) && typeof resolved.value === 'string' ? resolved.value : undefined;
}

/**
 * How deeply the YAML's concrete syntax tree nests, counted without recursion (yaml's `Parser` is iterative; its
 * composer and `visit` are not). About three levels per collection; a real workflow stays well under 60.
 */
const MAX_SYNTAX_DEPTH = 200;

function syntaxTooDeep(text: string): boolean {
  for (const token of new Parser().parse(text)) {
    const stack: Array<[unknown, number]> = [[token, 0]];
    while (stack.length > 0) {
      const [node, depth] = stack.pop()!;
      if (depth > MAX_SYNTAX_DEPTH) return true;
      for (const child of Object.values(node as object)) {
        if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
      }
    }
  }
  return false;
}

/** The decoded YAML: catches what escapes, quoting and folding hide from the raw text. */
function scanYaml(text: string, names: ReadonlySet<string>): SecretUse {
  // Composing a deeply nested document recurses until the stack runs out, and a stack that deep has crashed the
  // whole process (V8 compiling a regular expression there): such a file is never composed.
  try {
    if (syntaxTooDeep(text)) return { reads: true, by: 'YAML nested too deeply to read' };
  } catch {
    return { reads: true, by: 'YAML this parser cannot read' };
  }
  let document: Document;
  try {
    document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, strict: true });
  } catch {
    return { reads: true, by: 'YAML this parser cannot read' };
  }
  if (document.errors.length > 0) return { reads: true, by: 'YAML this parser cannot read' };
  let found: SecretUse = { reads: false };
  try {
    visit(document, {
      Pair(_key, pair: Pair<unknown, unknown>) {
        if (scalarText(pair.key, document)?.trim().toLowerCase() !== 'secrets') return undefined;
        if (scalarText(pair.value, document)?.trim().toLowerCase() === 'inherit') {
          found = { reads: true, by: 'secrets: inherit' };
          return visit.BREAK;
        }
        return undefined;
      },
      Scalar(key, node, path) {
        if (typeof node.value !== 'string') return undefined;
        const parent = path[path.length - 1];
        const isIf =
          key === 'value' &&
          isPair(parent) &&
          scalarText((parent as Pair<Node, unknown>).key, document)
            ?.trim()
            .toLowerCase() === 'if';
        const use = scanText(node.value, names, isIf);
        if (!use.reads) return undefined;
        found = use;
        return visit.BREAK;
      },
    });
  } catch {
    return { reads: true, by: 'YAML this parser cannot read' };
  }
  return found;
}

/**
 * Whether a workflow file reads one of `names` (upper case): `secrets.NAME` or `secrets['NAME']`, or every secret
 * at once (`secrets: inherit`, `toJSON(secrets)`, `secrets.*`, an index computed at run time).
 */
export function workflowReadsSecret(text: string, names: ReadonlySet<string>): SecretUse {
  const raw = scanText(text, names, false);
  if (raw.reads) return raw;
  return scanYaml(text, names);
}

/**
 * The Actions secret names the incident's credential is stored under in `repository` (its destinations
 * `github` / `owner/repo:NAME` or `owner/repo:env/<environment>:NAME`), upper case; empty when none names one there.
 * Anything that is not such a destination is ignored.
 */
export function secretNamesIn(repository: RepositoryRef, destinations: unknown): string[] {
  if (!Array.isArray(destinations)) return [];
  const names = new Set<string>();
  for (const destination of destinations.slice(0, 100)) {
    if (!destination || typeof destination !== 'object') continue;
    const { provider, target } = destination as { provider?: unknown; target?: unknown };
    if (provider !== 'github' || typeof target !== 'string' || target.length > 512) continue;
    try {
      const parsed = parseSecretTarget(target);
      if (parsed.repository.fullName.toLowerCase() === repository.fullName.toLowerCase()) {
        names.add(parsed.name.toUpperCase());
      }
    } catch {
      continue;
    }
  }
  return [...names].sort();
}
