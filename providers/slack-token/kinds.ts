/**
 * The Slack token kinds this issuer knows, told apart by their prefix. Only the kinds Slack lets anyone holding the
 * value revoke (`auth.revoke` authenticated with the token itself) are revocable here; the others are refused
 * before anything is sent, naming what to do instead. What is not a Slack token at all is never sent to Slack.
 */
export interface SlackTokenKind {
  /** The prefix as summaries and evidence name it: `xoxb`, `xoxe.xoxp`, `xapp`. */
  type: string;
  label: string;
  /**
   * Whether `auth.revoke` called with the token ends it, and `auth.test` called with it shows whether it still
   * works. A refresh token (`xoxe-`) is not a bearer token: Slack takes it only in `oauth.v2.access` (with the
   * app's client secret) or `tooling.tokens.rotate`.
   */
  revocable: boolean;
  /** For a kind that is not revocable here: where its owner revokes it. */
  instead?: string;
}

const KINDS: ReadonlyArray<SlackTokenKind & { prefix: string }> = [
  // Longest prefixes first: `xoxe.xoxb-` before `xoxe-`.
  {
    prefix: 'xoxe.xoxb-',
    type: 'xoxe.xoxb',
    label: 'expiring bot token (token rotation on)',
    revocable: true,
  },
  {
    prefix: 'xoxe.xoxp-',
    type: 'xoxe.xoxp',
    label: 'expiring user token or app configuration token',
    revocable: true,
  },
  { prefix: 'xoxb-', type: 'xoxb', label: 'bot token', revocable: true },
  { prefix: 'xoxp-', type: 'xoxp', label: 'user token', revocable: true },
  { prefix: 'xoxa-', type: 'xoxa', label: 'workspace app token (legacy)', revocable: true },
  {
    prefix: 'xoxe-',
    type: 'xoxe',
    label: 'refresh token (token rotation or app configuration)',
    revocable: false,
    instead:
      "a refresh token authenticates no API call (auth.revoke answers not_bearer_token): revoke the app configuration tokens in the owner's app settings (Your App Configuration Tokens), or, for a rotating bot or user token, reinstall or uninstall the app",
  },
  {
    prefix: 'xoxr-',
    type: 'xoxr',
    label: 'workspace app refresh token (legacy)',
    revocable: false,
    instead: 'a refresh token authenticates no API call: uninstall the workspace app',
  },
  {
    prefix: 'xapp-',
    type: 'xapp',
    label: 'app-level token',
    revocable: false,
    instead:
      "Slack documents no revocation of an app-level token by value: revoke it in the app's settings (Basic Information, App-Level Tokens)",
  },
  {
    prefix: 'xoxc-',
    type: 'xoxc',
    label: 'browser client token',
    revocable: false,
    instead:
      'a client token works only with its session cookie (without it Slack refuses it either way, so a refusal proves nothing): sign the user out of all sessions in the workspace admin',
  },
  {
    prefix: 'xoxs-',
    type: 'xoxs',
    label: 'session token',
    revocable: false,
    instead: 'sign the user out of all sessions in the workspace admin',
  },
  {
    prefix: 'xoxo-',
    type: 'xoxo',
    label: 'legacy token',
    revocable: false,
    instead: "revoke it in the owner's Slack settings",
  },
];

/** The kind of a Slack token, or undefined for anything that does not carry a Slack prefix. */
export function slackTokenKindOf(value: string): SlackTokenKind | undefined {
  const found = KINDS.find((kind) => value.startsWith(kind.prefix));
  if (!found) return undefined;
  const { prefix: _prefix, ...kind } = found;
  return kind;
}
