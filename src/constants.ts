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
  // DESIGN §9
  runCheck: 'agentTasks.runCheck',
  reviewWithAgent: 'agentTasks.reviewWithAgent',
  sendFindings: 'agentTasks.sendFindings',
  newAttempts: 'agentTasks.newAttempts',
  compareAttempts: 'agentTasks.compareAttempts',
  pickAttempt: 'agentTasks.pickAttempt',
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
  /** Some review task has findings to send (DESIGN §9). */
  hasFindings: 'agentTasks.hasFindings',
  /** Some tasks were launched together as attempts (DESIGN §9). */
  hasAttempts: 'agentTasks.hasAttempts',
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
  /** DESIGN §9: a finished task with a live worktree: Run Check. */
  checkable: 'checkable',
  /** A finished task (not itself a review) with live changes: Review with Another Agent. */
  reviewable: 'reviewable',
  /** A review task with findings: Send Findings to Task. */
  hasFindings: 'hasFindings',
  /** One of several attempts: Compare Attempts. */
  attempt: 'attempt',
  /** A finished attempt with live changes: Merge This Attempt. */
  pickable: 'pickable',
  /** The row that groups the attempts of one prompt. */
  attemptGroup: 'attemptGroup',
} as const;

export const WebviewType = { taskPanel: 'agentTasks.taskPanel', compareAttempts: 'agentTasks.compareAttempts' } as const;
export const OutputChannelName = 'Agent Tasks';
