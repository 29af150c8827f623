import type { DistributiveOmit } from '../../core/ports';
import type { Answer, FileChange, PendingQuestion } from '../../core/task-state';
import type { ServerRequest } from './protocol/ServerRequest';
import type { CommandExecutionApprovalDecision } from './protocol/v2/CommandExecutionApprovalDecision';
import type { CommandExecutionRequestApprovalResponse } from './protocol/v2/CommandExecutionRequestApprovalResponse';
import type { DynamicToolCallResponse } from './protocol/v2/DynamicToolCallResponse';
import type { FileChangeApprovalDecision } from './protocol/v2/FileChangeApprovalDecision';
import type { FileChangeRequestApprovalResponse } from './protocol/v2/FileChangeRequestApprovalResponse';
import type { McpServerElicitationRequestResponse } from './protocol/v2/McpServerElicitationRequestResponse';
import type { ToolRequestUserInputAnswer } from './protocol/v2/ToolRequestUserInputAnswer';
import type { ToolRequestUserInputResponse } from './protocol/v2/ToolRequestUserInputResponse';
import { displayCommand } from './transcript';

export type QuestionDraft = DistributiveOmit<PendingQuestion, 'askedAt'>;

/** The server requests that become questions to the user (the five pause kinds). */
export type QuestionRequest = Extract<
  ServerRequest,
  {
    method:
      | 'item/commandExecution/requestApproval'
      | 'item/fileChange/requestApproval'
      | 'item/tool/requestUserInput'
      | 'mcpServer/elicitation/request'
      | 'item/tool/call';
  }
>;

const QUESTION_METHODS = new Set<string>([
  'item/commandExecution/requestApproval',
  'item/fileChange/requestApproval',
  'item/tool/requestUserInput',
  'mcpServer/elicitation/request',
  'item/tool/call',
]);

export function isQuestionRequest(request: ServerRequest): request is QuestionRequest {
  return QUESTION_METHODS.has(request.method);
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
      const reason = [params.reason, params.grantRoot ? `Codex asks to allow writes under ${params.grantRoot} for this session.` : undefined]
        .filter(Boolean)
        .join(' ');
      return {
        type: 'file_approval',
        requestId: `file:${params.itemId}`,
        fileChanges: context.fileChanges(params.itemId) ?? [],
        reason: reason || undefined,
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
