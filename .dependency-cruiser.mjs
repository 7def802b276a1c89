// ESM so ESLint skips it like eslint.config.mjs (`**/*.mjs` is ignored); a .cjs would be type-linted and fail.
// Layer rules, checked by `npm run lint` (depcruise). Every dependency counts, type-only imports included
// (`tsPreCompilationDeps`): an `import type` still couples the two folders.
//
//   lib/        bottom layer: imports only lib/, packages and Node built-ins
//   providers/  adapters to the systems we contain; never the apps built on them
//   workflows/  Temporal's deterministic sandbox: workflows/, lib/, @temporalio/workflow and /common, and the
//               activity interface (`import type` from activities/types.ts, erased before bundling)
//   client/     with worker/, the only doors into workflows/
//
// Folder-level cycles between top-level folders (reports/ -> exercises/ -> reports/) and module-level cycles
// are errors too.

/** The one module outside workflows/ and lib/ the workflow may see, and only its types. */
const ACTIVITY_INTERFACE = '^activities/types\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'lib-imports-only-lib',
      severity: 'error',
      comment:
        'lib/ is the bottom layer: it may import lib/, npm packages and Node built-ins, nothing above it. ' +
        'Move the shared code down into lib/ or pass it in from the caller.',
      from: { path: '^lib/' },
      to: { pathNot: ['^lib/', '^node_modules/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'providers-below-the-apps',
      severity: 'error',
      comment:
        'providers/ adapt external systems; the applications built on them (workflows, client, gateway, ' +
        'slack, exercises, reports) depend on providers/, never the reverse.',
      from: { path: '^providers/' },
      to: { path: '^(workflows|client|gateway|slack|exercises|reports)/' },
    },
    {
      name: 'workflow-no-node-builtins',
      severity: 'error',
      comment:
        "Workflow code runs in Temporal's deterministic sandbox: no Node built-ins (use an activity for I/O).",
      from: { path: '^workflows/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'workflow-stays-in-the-sandbox',
      severity: 'error',
      comment:
        'workflows/ may import only workflows/, lib/, @temporalio/workflow, @temporalio/common and ' +
        '(type-only) activities/types.ts; everything else belongs in an activity.',
      from: { path: '^workflows/' },
      to: {
        pathNot: ['^(workflows|lib)/', ACTIVITY_INTERFACE, '^node_modules/@temporalio/(workflow|common)/'],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'workflow-activity-interface-type-only',
      severity: 'error',
      comment:
        'workflows/ gets the activity interface with `import type` from activities/types.ts (for ' +
        'proxyActivities); a value import would pull activity code into the workflow bundle.',
      from: { path: '^workflows/' },
      to: { path: ACTIVITY_INTERFACE, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'only-client-and-worker-import-workflows',
      severity: 'error',
      comment:
        'client/ is the one place that starts, signals, updates and queries workflows; worker/ bundles them. ' +
        'Everything else (tests included) goes through client/ or worker/.',
      from: { pathNot: '^(client|worker|workflows)/' },
      to: { path: '^workflows/' },
    },
    {
      name: 'no-folder-cycles',
      severity: 'error',
      comment:
        'Top-level folders form layers: a cycle between two of them (reports/ -> exercises/ -> reports/) ' +
        'means neither can be understood, tested or moved alone. Cut the edge that points up.',
      scope: 'folder',
      // Flags each folder dependency that leaves its top-level folder and lies on a cycle; cycles between
      // subfolders of one top-level folder (gateway/siem <-> gateway) are left to the module-cycle rule.
      // dependency-cruiser builds the folder graph from each module's own folder, so a -> b/sub plus b -> a is
      // missed when nothing in b/sub leads back to a (or to b). Every cycle among flat folders is caught.
      from: { path: '^([^/]+)' },
      to: { pathNot: '^$1(/|$)', circular: true },
    },
    {
      name: 'no-module-cycles',
      severity: 'error',
      comment: 'Modules that import each other, directly or through others: break the cycle.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // `npm run lint` cruises `.`: every folder with code is checked, new ones included.
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['^\\.git/', '^\\.data/', '^coverage/', '^dist/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      mainFields: ['main', 'types', 'typings'],
    },
  },
};
