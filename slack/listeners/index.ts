import type { App } from '@slack/bolt';
import * as approveButton from './approve-button';
import * as containShortcut from './contain-shortcut';
import * as credentialSelect from './credential-select';
import * as denyButton from './deny-button';
import * as denyModal from './deny-modal';
import * as intakeModal from './intake-modal';
import * as kickoffConfirm from './kickoff-confirm';
import * as secretLeakCommand from './secret-leak-command';
import type { ListenerDeps, SlackListener } from './shared';

export type { ListenerDeps } from './shared';

/** Every Slack interaction Tourniquet answers, one file each. */
const LISTENERS: readonly SlackListener[] = [
  approveButton,
  denyButton,
  denyModal,
  secretLeakCommand,
  containShortcut,
  intakeModal,
  kickoffConfirm,
  credentialSelect,
];

export function registerListeners(app: App, deps: ListenerDeps): void {
  for (const listener of LISTENERS) listener.register(app, deps);
}
