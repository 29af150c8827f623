/** The lifecycle states of a task (DESIGN §2). */
export const TASK_STATUSES = [
  'waiting',
  'pending',
  'running',
  'rate_limited',
  'waiting_answer',
  'completed',
  'failed',
  'timed_out',
  'cancelled',
  'unknown',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'timed_out', 'cancelled', 'unknown']);
export const isTerminal = (status: TaskStatus): boolean => TERMINAL_STATUSES.has(status);

export const TASK_TYPES = ['coder', 'planner', 'tester', 'researcher', 'general'] as const;
export type TaskTypeName = (typeof TASK_TYPES)[number];

/** `codex` | `claude-cli` | `copilot` | `acp:<name>`, or any id a registered adapter brings. */
export type ProviderId = string;

export interface UserInputQuestion {
  id: string;
  text: string;
  header?: string;
  options?: { label: string; description?: string }[];
  allowFreeform?: boolean;
  multiSelect?: boolean;
}

export interface FileChange {
  path: string;
  kind: 'add' | 'update' | 'delete';
  /** Unified diff of this change (for `add`, may be the whole new content as a diff). */
  patch: string;
  /** Proposed full content after the change, when the provider knows it. */
  newContent?: string;
}

/** A question an agent is waiting on; `requestId` is unique within its task. */
export type PendingQuestion =
  | { type: 'user_input'; requestId: string; askedAt: number; questions: UserInputQuestion[] }
  | { type: 'command_approval'; requestId: string; askedAt: number; command: string; cwd?: string; reason?: string; sandboxPolicy?: string; canApproveForSession?: boolean }
  | { type: 'file_approval'; requestId: string; askedAt: number; fileChanges: FileChange[]; reason?: string; canApproveForSession?: boolean }
  | { type: 'elicitation'; requestId: string; askedAt: number; serverName?: string; message: string; schema?: Record<string, unknown> }
  | { type: 'dynamic_tool'; requestId: string; askedAt: number; toolName: string; arguments: unknown };

export type PendingQuestionType = PendingQuestion['type'];
export const PENDING_QUESTION_TYPES: readonly PendingQuestionType[] = ['user_input', 'command_approval', 'file_approval', 'elicitation', 'dynamic_tool'];

/** The user's answer to a PendingQuestion (DESIGN §1). */
export type Answer =
  | { decision: 'approve' | 'approveForSession' | 'deny'; message?: string }
  | { answers: Record<string, string[]> }
  | { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, unknown> }
  | { text: string; success: boolean };

export const OUTPUT_KINDS = ['agent', 'reasoning', 'command', 'file', 'tool', 'user', 'status', 'error'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** One structured transcript entry. `id` lets a streaming entry (message deltas, command output) be updated in place. */
export interface OutputEntry {
  at: number;
  kind: OutputKind;
  text: string;
  /** Stable id within the task for entries that grow while streaming. */
  id?: string;
  /** Extra detail: a command's exit code, a file's diff, a tool's arguments. */
  detail?: string;
  exitCode?: number;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  costUsd?: number;
}

export interface TaskTimestamps {
  created: number;
  updated: number;
  started?: number;
  completed?: number;
  lastOutput?: number;
}

export interface TaskState {
  id: string;
  status: TaskStatus;
  provider: ProviderId;
  /** The profile the task runs (or last ran) on; undefined = the provider's default environment. */
  profile?: string;
  /** True when the user pinned the profile: then the task never fails over. */
  profilePinned?: boolean;
  taskType: TaskTypeName;
  prompt: string;
  /** The agent's own title for its thread/session, when it gave one (plain text, length-capped; see task-title.ts). */
  title?: string;
  cwd: string;
  model?: string;
  sessionId?: string;
  timestamps: TaskTimestamps;
  timeoutMs?: number;
  timeoutAt?: number;
  output: OutputEntry[];
  outputFilePath?: string;
  dependsOn: string[];
  labels: string[];
  pendingQuestions: PendingQuestion[];
  error?: string;
  exitCode?: number;
  result?: string;
  usage?: Usage;
  recovered?: boolean;
  degraded?: boolean;
  /** The task this one retries or follows up. */
  parentId?: string;
  /** Follow-up: continue the parent's session rather than start a new one. */
  continueSession?: boolean;
  /** Rate-limited attempts so far (DESIGN §3a: at most 3). */
  rateLimitAttempts?: number;
  /** Waits for a reset time the agent reported (they do not count as attempts; at most MAX_RESET_WAITS). */
  resetWaits?: number;
  /** While `rate_limited`: when the task is retried. */
  retryAt?: number;
  /** Profiles already tried by failover. */
  triedProfiles?: string[];
  /** Provider-specific data recovery needs (thread id, keeper socket, …); never secrets. */
  providerState?: Record<string, unknown>;
  /** DESIGN §8: whether the task asked to run in its own worktree (from its input or `agentTasks.isolation`). */
  isolation?: Isolation;
  /** DESIGN §8: the task's own worktree, when it runs isolated. */
  worktree?: TaskWorktree;
  /** DESIGN §9: the last run of `agentTasks.check` in the task's worktree. */
  check?: TaskCheck;
  /** DESIGN §9: shared by the tasks launched together on one prompt ("attempts"). */
  attemptGroup?: string;
  /** DESIGN §9: on a review task, the task it reviews. */
  reviewOf?: string;
  /** DESIGN §9: on a review task, what the reviewer found. */
  findings?: Finding[];
}

/** DESIGN §9: one finding of a review task. */
export interface Finding {
  id: string;
  path?: string;
  line?: number;
  severity: 'high' | 'medium' | 'low' | 'info';
  title: string;
  body: string;
}

/** DESIGN §9: an agent asked to attempt a prompt, or to review a change. */
export interface AgentChoice {
  provider: ProviderId;
  profile?: string;
  model?: string;
}

/** DESIGN §9: a check run in a task's worktree. It never changes the task's status. */
export interface TaskCheck {
  command: string;
  state: 'running' | 'passed' | 'failed' | 'cancelled';
  exitCode?: number;
  durationMs?: number;
  /** The last ≤ 40 lines of its output. */
  tail?: string;
}

/** DESIGN §8: run in a git worktree of its own, or in the folder as it is. */
export type Isolation = 'worktree' | 'none';
export const ISOLATIONS: readonly Isolation[] = ['worktree', 'none'];

/** DESIGN §8: where a task's worktree stands. */
export type WorktreeState = 'active' | 'merged' | 'applied' | 'conflict' | 'discarded';

/** One file a task changed against its worktree's base commit (binary files count 0 lines). */
export interface WorktreeFileChange {
  path: string;
  status: 'added' | 'modified' | 'deleted' | 'renamed';
  insertions: number;
  deletions: number;
  /** The path before, for a rename. */
  oldPath?: string;
  binary?: boolean;
}

/** A task's change summary: committed and uncommitted changes (untracked files included) against `baseCommit`. */
export interface WorktreeChanges {
  files: WorktreeFileChange[];
  insertions: number;
  deletions: number;
}

/** DESIGN §8: the git worktree a task runs in, persisted with the task. */
export interface TaskWorktree {
  /** The worktree folder. */
  path: string;
  /** `agent-tasks/<taskId>` (a follow-up keeps its parent's). */
  branch: string;
  /** The commit the branch started from; changes are measured against it. */
  baseCommit: string;
  state: WorktreeState;
  changes: WorktreeChanges;
  /** Files in conflict with the main checkout's branch, when `state` is `conflict`. */
  conflicts?: string[];
  /** Top level of the main checkout the worktree merges back into. */
  repository: string;
  /** The agent's working folder: the task's `cwd` at the same relative path inside the worktree. */
  cwd: string;
}

/** Plain JSON copy of a TaskState handed out through the API and events. */
export type TaskSnapshot = TaskState;

/** The `agentTasks.newTask` argument object and the API's createTask input. */
export interface CreateTaskInput {
  prompt: string;
  provider?: ProviderId;
  taskType?: TaskTypeName;
  model?: string;
  cwd?: string;
  dependsOn?: string[];
  labels?: string[];
  timeoutMinutes?: number;
  profile?: string;
  /** DESIGN §8: `worktree` (default from `agentTasks.isolation`) or `none` (run in `cwd` itself). */
  isolation?: Isolation;
}
