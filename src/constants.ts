/** Identifiers shared with package.json (a unit test checks both directions). */

export const EXTENSION_ID = 'agenttasks.agent-task-worker';

export const CommandId = {
  newTask: 'agentTasks.newTask',
  openTask: 'agentTasks.openTask',
  answer: 'agentTasks.answer',
  approve: 'agentTasks.approve',
  deny: 'agentTasks.deny',
  cancelTask: 'agentTasks.cancelTask',
  retryTask: 'agentTasks.retryTask',
  sendMessage: 'agentTasks.sendMessage',
  clearFinished: 'agentTasks.clearFinished',
  showLog: 'agentTasks.showLog',
  copyMcpConfig: 'agentTasks.copyMcpConfig',
  rotateMcpToken: 'agentTasks.rotateMcpToken',
  showAccounts: 'agentTasks.showAccounts',
  reviewChanges: 'agentTasks.reviewChanges',
  mergeChanges: 'agentTasks.mergeChanges',
  applyChanges: 'agentTasks.applyChanges',
  discardChanges: 'agentTasks.discardChanges',
  openWorktree: 'agentTasks.openWorktree',
  resolveWithAgent: 'agentTasks.resolveWithAgent',
} as const;
export type CommandId = (typeof CommandId)[keyof typeof CommandId];

export const ViewContainerId = 'agentTasks';
export const ViewId = { tasks: 'agentTasks.tasks' } as const;

export const ConfigSection = 'agentTasks';
/** Setting keys, relative to the `agentTasks` section. */
export const ConfigKey = {
  defaultProvider: 'defaultProvider',
  codexPath: 'codex.path',
  claudePath: 'claude.path',
  copilotPath: 'copilot.path',
  maxConcurrentTasks: 'maxConcurrentTasks',
  defaultTimeoutMinutes: 'defaultTimeoutMinutes',
  questionTimeoutMinutes: 'questionTimeoutMinutes',
  profiles: 'profiles',
  notifications: 'notifications',
  acpAgents: 'acpAgents',
  mcpAllowAgentApprovals: 'mcp.allowAgentApprovals',
  mcpAllowAgentMerge: 'mcp.allowAgentMerge',
  isolation: 'isolation',
  worktreeSetup: 'worktree.setup',
  worktreeCopy: 'worktree.copy',
  check: 'check',
  keepRunningMinutes: 'keepRunningMinutes',
} as const;
export type ConfigKey = (typeof ConfigKey)[keyof typeof ConfigKey];

/** Context keys used in `when` clauses. */
export const ContextKey = {
  hasTasks: 'agentTasks.hasTasks',
  hasActiveTasks: 'agentTasks.hasActiveTasks',
  hasFinishedTasks: 'agentTasks.hasFinishedTasks',
  needsYouCount: 'agentTasks.needsYouCount',
  /** Some task has a worktree with unmerged work (DESIGN §8). */
  hasLiveWorktrees: 'agentTasks.hasLiveWorktrees',
} as const;
export type ContextKey = (typeof ContextKey)[keyof typeof ContextKey];

/** Tokens in a tree item's contextValue, matched by regex `when` clauses (`viewItem =~ /\bcancellable\b/`). */
export const ItemToken = {
  task: 'task',
  group: 'group',
  needsYou: 'needsYou',
  commandApproval: 'commandApproval',
  cancellable: 'cancellable',
  retryable: 'retryable',
  followUp: 'followUp',
  /** DESIGN §8: a live worktree (unmerged work, maybe none yet): Open Worktree. */
  liveWorktree: 'liveWorktree',
  /** A live worktree with changed files: Review Changes. */
  liveChanges: 'liveChanges',
  /** A finished task with live changes: Merge, Apply. */
  mergeable: 'mergeable',
  /** A finished task with a live worktree: Discard. */
  discardable: 'discardable',
  /** A merge stopped on conflicts: Resolve with Agent. */
  conflict: 'conflict',
} as const;

export const WebviewType = { taskPanel: 'agentTasks.taskPanel' } as const;
export const OutputChannelName = 'Agent Tasks';
