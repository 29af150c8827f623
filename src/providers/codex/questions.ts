import type { DistributiveOmit } from '../../core/ports';
import type { Answer, FileChange, PendingQuestion } from '../../core/task-state';
import type { ApplyPatchApprovalResponse } from './protocol/ApplyPatchApprovalResponse';
import type { ExecCommandApprovalResponse } from './protocol/ExecCommandApprovalResponse';
import type { FileChange as LegacyFileChange } from './protocol/FileChange';
import type { ReviewDecision } from './protocol/ReviewDecision';
import type { ServerRequest } from './protocol/ServerRequest';
import type { CommandExecutionApprovalDecision } from './protocol/v2/CommandExecutionApprovalDecision';
import type { CommandExecutionRequestApprovalResponse } from './protocol/v2/CommandExecutionRequestApprovalResponse';
import type { DynamicToolCallResponse } from './protocol/v2/DynamicToolCallResponse';
import type { FileChangeApprovalDecision } from './protocol/v2/FileChangeApprovalDecision';
import type { FileChangeRequestApprovalResponse } from './protocol/v2/FileChangeRequestApprovalResponse';
import type { McpServerElicitationRequestResponse } from './protocol/v2/McpServerElicitationRequestResponse';
import type { FileSystemSandboxEntry } from './protocol/v2/FileSystemSandboxEntry';
import type { PermissionsRequestApprovalResponse } from './protocol/v2/PermissionsRequestApprovalResponse';
import type { RequestPermissionProfile } from './protocol/v2/RequestPermissionProfile';
import type { ToolRequestUserInputAnswer } from './protocol/v2/ToolRequestUserInputAnswer';
import type { ToolRequestUserInputResponse } from './protocol/v2/ToolRequestUserInputResponse';
import { displayCommand } from './transcript';

export type QuestionDraft = DistributiveOmit<PendingQuestion, 'askedAt'>;

/** The server requests that become questions to the user. */
export type QuestionRequest = Extract<ServerRequest, { method: QuestionMethod }>;
type QuestionMethod = { [M in ServerRequest['method']]: (typeof SERVER_REQUESTS)[M] extends 'question' ? M : never }[ServerRequest['method']];

/**
 * What this client does with every server request of the generated protocol. A request added by a newer Codex makes
 * this table fail to type-check after `npm run gen:codex`, so each one gets a deliberate decision:
 * - `question`: asked as a PendingQuestion (see questionFor); never answered without the user (or a decline on
 *   cancel/timeout).
 * - `declined`: answered with a JSON-RPC error at once and logged, never approved. Codex then falls back to its own
 *   behaviour: `account/chatgptAuthTokens/refresh` keeps Codex's own login (we manage no ChatGPT tokens), and
 *   `attestation/generate` is not ours to produce (initialize says `requestAttestation: false`).
 * Requests a newer Codex sends that are not in this table get the same JSON-RPC error and a log line.
 */
export const SERVER_REQUESTS = {
  'item/commandExecution/requestApproval': 'question',
  'item/fileChange/requestApproval': 'question',
  'item/tool/requestUserInput': 'question',
  'mcpServer/elicitation/request': 'question',
  'item/permissions/requestApproval': 'question',
  'item/tool/call': 'question',
  /** Legacy (v1) approvals, still in the protocol: mapped like their v2 counterparts. */
  execCommandApproval: 'question',
  applyPatchApproval: 'question',
  'account/chatgptAuthTokens/refresh': 'declined',
  'attestation/generate': 'declined',
} as const satisfies Record<ServerRequest['method'], 'question' | 'declined'>;

/** Why a `declined` request is refused (logged and sent as the JSON-RPC error message). */
export const DECLINED_REQUEST_REASONS: Record<string, string> = {
  'account/chatgptAuthTokens/refresh': 'this client does not manage ChatGPT tokens; Codex keeps its own login',
  'attestation/generate': 'this client does not provide attestations',
};

export function isQuestionRequest(request: ServerRequest): request is QuestionRequest {
  return (SERVER_REQUESTS as Record<string, string>)[request.method] === 'question';
}

export interface QuestionContext {
  /** The changes of the fileChange item an approval is about (from its item/started). */
  fileChanges(itemId: string): FileChange[] | undefined;
  /** Distinguishes requests that carry no item id (elicitations) across connections. */
  connectionSerial: number;
}

/**
 * The question a server request asks. Request ids are derived from Codex's item ids where there is one, so the
 * approval Codex re-sends after a reattach is the same question again.
 */
export function questionFor(request: QuestionRequest, context: QuestionContext): QuestionDraft {
  switch (request.method) {
    case 'item/commandExecution/requestApproval': {
      const params = request.params;
      const command = params.command ?? params.commandActions?.map((action) => action.command).join(' && ') ?? '(unknown command)';
      return {
        type: 'command_approval',
        requestId: `command:${params.approvalId ?? params.itemId}`,
        command: displayCommand(command),
        cwd: params.cwd ?? undefined,
        reason: params.reason ?? undefined,
        sandboxPolicy: params.networkApprovalContext ? `network access to ${params.networkApprovalContext.host}` : undefined,
        canApproveForSession: true,
      };
    }
    case 'item/fileChange/requestApproval': {
      const params = request.params;
      const reason = writeReason(params.reason, params.grantRoot);
      return {
        type: 'file_approval',
        requestId: `file:${params.itemId}`,
        fileChanges: context.fileChanges(params.itemId) ?? [],
        reason,
        canApproveForSession: true,
      };
    }
    case 'item/tool/requestUserInput':
      return {
        type: 'user_input',
        requestId: `input:${request.params.itemId}`,
        questions: request.params.questions.map((question) => ({
          id: question.id,
          text: question.question,
          header: question.header || undefined,
          options: question.options?.map((option) => ({ label: option.label, description: option.description || undefined })),
          allowFreeform: question.isOther,
        })),
      };
    case 'mcpServer/elicitation/request': {
      const params = request.params;
      const requestId = `elicitation:${context.connectionSerial}-${request.id}`;
      // Codex asks for approvals (an MCP/app tool call, a plugin install, kinds added later) through this request too:
      // those are approvals, which only the user may answer unless agentTasks.mcp.allowAgentApprovals is on (DESIGN §6).
      const approval = codexApproval(request);
      if (approval) return approvalQuestion(requestId, params.serverName, params, approval);
      switch (params.mode) {
        case 'form':
          return { type: 'elicitation', requestId, serverName: params.serverName, message: params.message, schema: params.requestedSchema as Record<string, unknown> };
        case 'openai/form':
        case 'openaiForm':
          return { type: 'elicitation', requestId, serverName: params.serverName, message: params.message, schema: asObject(params.requestedSchema) };
        case 'url':
          return { type: 'elicitation', requestId, serverName: params.serverName, message: `${params.message}\n${params.url}` };
        case 'openai/userVerification':
          return { type: 'elicitation', requestId, serverName: params.serverName, message: `${params.title}\n${params.description}` };
      }
      return { type: 'elicitation', requestId, serverName: (params as { serverName: string }).serverName, message: 'An MCP server asks for input' };
    }
    case 'item/permissions/requestApproval': {
      const params = request.params;
      return {
        type: 'command_approval',
        requestId: `permissions:${params.itemId}`,
        command: describePermissions(params.permissions),
        cwd: params.cwd || undefined,
        reason: params.reason ?? undefined,
        sandboxPolicy: 'additional sandbox permissions',
        canApproveForSession: true,
      };
    }
    case 'execCommandApproval': {
      const params = request.params;
      return {
        type: 'command_approval',
        requestId: `command:${params.approvalId ?? params.callId}`,
        command: displayCommand(params.command.map(shellQuote).join(' ')),
        cwd: params.cwd || undefined,
        reason: params.reason ?? undefined,
        canApproveForSession: true,
      };
    }
    case 'applyPatchApproval': {
      const params = request.params;
      const reason = writeReason(params.reason, params.grantRoot);
      return {
        type: 'file_approval',
        requestId: `file:${params.callId}`,
        fileChanges: Object.entries(params.fileChanges).flatMap(([file, change]) => (change ? [legacyFileChange(file, change)] : [])),
        reason,
        canApproveForSession: true,
      };
    }
    case 'item/tool/call':
      return {
        type: 'dynamic_tool',
        requestId: `tool:${request.params.callId}`,
        toolName: request.params.namespace ? `${request.params.namespace}.${request.params.tool}` : request.params.tool,
        arguments: request.params.arguments,
      };
  }
}

/** The reply to a server request for the user's answer. An answer of the wrong shape declines. */
export function responseFor(request: QuestionRequest, answer: Answer): unknown {
  switch (request.method) {
    case 'item/commandExecution/requestApproval': {
      const decision: CommandExecutionApprovalDecision = 'decision' in answer ? commandDecision(answer.decision) : 'decline';
      return { decision } satisfies CommandExecutionRequestApprovalResponse;
    }
    case 'item/fileChange/requestApproval': {
      const decision: FileChangeApprovalDecision = 'decision' in answer ? commandDecision(answer.decision) : 'decline';
      return { decision } satisfies FileChangeRequestApprovalResponse;
    }
    case 'item/tool/requestUserInput': {
      const answers: Record<string, ToolRequestUserInputAnswer> = {};
      if ('answers' in answer) {
        for (const [id, values] of Object.entries(answer.answers)) answers[id] = { answers: values.map(String) };
      }
      return { answers } satisfies ToolRequestUserInputResponse;
    }
    case 'mcpServer/elicitation/request': {
      if (codexApproval(request)) {
        // An approval elicitation is answered with an approval decision; any other shape declines.
        if (!('decision' in answer) || answer.decision === 'deny') return { action: 'decline', content: null, _meta: null } satisfies McpServerElicitationRequestResponse;
        const meta = answer.decision === 'approveForSession' ? { persist: 'session' } : null;
        return { action: 'accept', content: {}, _meta: meta } satisfies McpServerElicitationRequestResponse;
      }
      if (!('action' in answer)) return { action: 'decline', content: null, _meta: null } satisfies McpServerElicitationRequestResponse;
      const content = answer.action === 'accept' ? ((answer.content ?? {}) as McpServerElicitationRequestResponse['content']) : null;
      return { action: answer.action, content, _meta: null } satisfies McpServerElicitationRequestResponse;
    }
    case 'item/permissions/requestApproval':
      if (!('decision' in answer) || answer.decision === 'deny') return noPermissions();
      return {
        permissions: grantedPermissions(request.params.permissions),
        scope: answer.decision === 'approveForSession' ? 'session' : 'turn',
      } satisfies PermissionsRequestApprovalResponse;
    case 'execCommandApproval':
    case 'applyPatchApproval':
      return { decision: 'decision' in answer ? reviewDecision(answer.decision, answer.message) : denied() } satisfies ExecCommandApprovalResponse & ApplyPatchApprovalResponse;
    case 'item/tool/call': {
      if (!('text' in answer)) {
        return { contentItems: [{ type: 'inputText', text: 'The user did not answer this tool call.' }], success: false } satisfies DynamicToolCallResponse;
      }
      return { contentItems: [{ type: 'inputText', text: answer.text }], success: answer.success } satisfies DynamicToolCallResponse;
    }
  }
}

/** The reply when the question ends without an answer: the task was cancelled (`cancel`) or it timed out (`decline`). */
export function refusalFor(request: QuestionRequest, why: 'cancel' | 'decline'): unknown {
  switch (request.method) {
    case 'item/commandExecution/requestApproval':
      return { decision: why } satisfies CommandExecutionRequestApprovalResponse;
    case 'item/fileChange/requestApproval':
      return { decision: why } satisfies FileChangeRequestApprovalResponse;
    case 'item/tool/requestUserInput':
      return { answers: {} } satisfies ToolRequestUserInputResponse;
    case 'mcpServer/elicitation/request':
      return { action: why, content: null, _meta: null } satisfies McpServerElicitationRequestResponse;
    case 'item/permissions/requestApproval':
      return noPermissions();
    case 'execCommandApproval':
    case 'applyPatchApproval':
      return { decision: why === 'cancel' ? 'abort' : denied() } satisfies ExecCommandApprovalResponse & ApplyPatchApprovalResponse;
    case 'item/tool/call':
      return {
        contentItems: [{ type: 'inputText', text: why === 'cancel' ? 'The task was cancelled.' : 'The user declined this tool call.' }],
        success: false,
      } satisfies DynamicToolCallResponse;
  }
}

/** What an approval elicitation from Codex asks: `_meta.codex_approval_kind` (any value, known or not) marks one. */
export interface CodexApproval {
  kind: string;
  meta: Record<string, unknown>;
}

export function codexApproval(request: QuestionRequest): CodexApproval | undefined {
  if (request.method !== 'mcpServer/elicitation/request') return undefined;
  const meta = asObject((request.params as { _meta?: unknown })._meta);
  if (!meta || !('codex_approval_kind' in meta) || meta.codex_approval_kind === null || meta.codex_approval_kind === undefined) return undefined;
  const kind = typeof meta.codex_approval_kind === 'string' ? meta.codex_approval_kind : JSON.stringify(meta.codex_approval_kind);
  return { kind, meta };
}

const MAX_APPROVAL_TEXT = 4000;

/** An approval elicitation as an approval question: what would run, in full (bounded), and Codex's own wording. */
function approvalQuestion(
  requestId: string,
  serverName: string,
  params: { message?: string; title?: string; description?: string },
  approval: CodexApproval,
): QuestionDraft {
  const { kind, meta } = approval;
  const toolName = typeof meta.tool_name === 'string' ? meta.tool_name : undefined;
  const message = params.message ?? [params.title, params.description].filter(Boolean).join('\n');
  let command: string;
  if (kind === 'mcp_tool_call' && toolName) {
    const args = meta.tool_params === undefined ? '' : JSON.stringify(meta.tool_params);
    command = `MCP tool ${serverName}.${toolName}(${args})`;
  } else {
    command = `Codex approval (${kind}): ${message || `${serverName} asks for approval`}`;
  }
  const description = typeof meta.tool_description === 'string' ? meta.tool_description : undefined;
  const reason = [message, description].filter(Boolean).join('\n');
  const persist = Array.isArray(meta.persist) ? meta.persist : [];
  return {
    type: 'command_approval',
    requestId,
    command: bounded(command),
    reason: reason ? bounded(reason) : undefined,
    canApproveForSession: persist.includes('session'),
  };
}

function bounded(text: string): string {
  return text.length > MAX_APPROVAL_TEXT ? `${text.slice(0, MAX_APPROVAL_TEXT)}… (${text.length - MAX_APPROVAL_TEXT} more characters)` : text;
}

function commandDecision(decision: 'approve' | 'approveForSession' | 'deny'): 'accept' | 'acceptForSession' | 'decline' {
  switch (decision) {
    case 'approve':
      return 'accept';
    case 'approveForSession':
      return 'acceptForSession';
    case 'deny':
      return 'decline';
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A permissions request declined: nothing granted, for this turn only. */
function noPermissions(): PermissionsRequestApprovalResponse {
  return { permissions: {}, scope: 'turn' };
}

/** Grants exactly what was requested (no more): the network flag if asked for, and the listed file system access. */
function grantedPermissions(requested: RequestPermissionProfile): PermissionsRequestApprovalResponse['permissions'] {
  return {
    ...(requested.network?.enabled ? { network: { enabled: true } } : {}),
    ...(requested.fileSystem ? { fileSystem: requested.fileSystem } : {}),
  };
}

/** The permissions a request asks for, as the line the approval shows. */
export function describePermissions(requested: RequestPermissionProfile): string {
  const parts: string[] = [];
  if (requested.network?.enabled) parts.push('network access');
  const fs = requested.fileSystem;
  if (fs) {
    const write = [...(fs.write ?? []), ...entryPaths(fs.entries, 'write')];
    const read = [...(fs.read ?? []), ...entryPaths(fs.entries, 'read')];
    if (write.length) parts.push(`write access to ${[...new Set(write)].join(', ')}`);
    if (read.length) parts.push(`read access to ${[...new Set(read)].join(', ')}`);
  }
  return `Grant Codex ${parts.length ? parts.join('; ') : 'additional sandbox permissions'}`;
}

function entryPaths(entries: FileSystemSandboxEntry[] | undefined, access: 'read' | 'write'): string[] {
  return (entries ?? [])
    .filter((entry) => entry.access === access)
    .map((entry) => (entry.path.type === 'path' ? entry.path.path : entry.path.type === 'glob_pattern' ? entry.path.pattern : `<${entry.path.value.kind}>`));
}

function reviewDecision(decision: 'approve' | 'approveForSession' | 'deny', message?: string): ReviewDecision {
  switch (decision) {
    case 'approve':
      return 'approved';
    case 'approveForSession':
      return 'approved_for_session';
    case 'deny':
      return denied(message);
  }
}

function denied(message = 'The user declined this request.'): ReviewDecision {
  return { denied: { rejection: message } };
}

function legacyFileChange(file: string, change: LegacyFileChange): FileChange {
  const name = file.replace(/^\/+/, '');
  switch (change.type) {
    case 'add':
      return { path: file, kind: 'add', patch: unifiedAdd(name, change.content), newContent: change.content };
    case 'delete':
      return { path: file, kind: 'delete', patch: `--- a/${name}\n+++ /dev/null\n` };
    case 'update':
      return { path: change.move_path ?? file, kind: 'update', patch: change.unified_diff };
  }
}

function unifiedAdd(name: string, content: string): string {
  const lines = content.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return `--- /dev/null\n+++ b/${name}\n@@ -0,0 +1,${lines.length} @@\n${lines.map((line) => `+${line}\n`).join('')}`;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A file approval's reason, with the session-wide write root Codex asks for when it asks for one. */
function writeReason(reason: string | null | undefined, grantRoot: string | null | undefined): string | undefined {
  const parts = [reason, grantRoot ? `Codex asks to allow writes under ${grantRoot} for this session.` : undefined].filter(Boolean);
  return parts.length ? parts.join(' ') : undefined;
}
