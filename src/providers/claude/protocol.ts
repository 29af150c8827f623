/**
 * The stream-json messages of `claude -p --input-format stream-json --output-format stream-json --verbose`
 * (PROTOCOLS.md §2), as far as this adapter reads them. Claude Code publishes no types for this wire format, so
 * these are written from the recorded traffic; every field the adapter does not need is left out and every
 * field is treated as untrusted (checked before use).
 */

/** Content blocks of an Anthropic message. */
export type ClaudeContentBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content?: string | { type: string; text?: string }[]; is_error?: boolean }
  | { type: string; [key: string]: unknown };

export interface ClaudeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** Messages Claude Code writes to stdout. */
export type ClaudeOutputMessage =
  | ClaudeSystemMessage
  | ClaudeAssistantMessage
  | ClaudeUserMessage
  | ClaudeStreamEventMessage
  | ClaudeResultMessage
  | ClaudeRateLimitEvent
  | ClaudeControlRequest
  | ClaudeControlResponse
  | ClaudeControlCancelRequest;

export interface ClaudeSystemMessage {
  type: 'system';
  /** `init` (re-sent for every user message), `api_retry`, `status`, `compact_boundary`, … */
  subtype: string;
  session_id?: string;
  model?: string;
  attempt?: number;
  max_retries?: number;
  retry_delay_ms?: number;
  error_status?: number | null;
  error?: string;
}

export interface ClaudeAssistantMessage {
  type: 'assistant';
  message: { id?: string; model?: string; content?: ClaudeContentBlock[]; usage?: ClaudeUsage };
  session_id?: string;
  parent_tool_use_id?: string | null;
  /** Set on synthetic error messages, e.g. `rate_limit`. */
  error?: string;
}

export interface ClaudeUserMessage {
  type: 'user';
  message: { role?: 'user'; content?: string | ClaudeContentBlock[] };
  session_id?: string;
  parent_tool_use_id?: string | null;
  tool_use_result?: unknown;
}

/** A raw Anthropic SSE event (only with --include-partial-messages). */
export interface ClaudeStreamEventMessage {
  type: 'stream_event';
  event: {
    type: string;
    index?: number;
    message?: { id?: string };
    content_block?: { type?: string };
    delta?: { type?: string; text?: string; thinking?: string };
  };
  session_id?: string;
  parent_tool_use_id?: string | null;
}

export interface ClaudeResultMessage {
  type: 'result';
  /** `success` (also for an API error: check `is_error`), `error_during_execution`, `error_max_turns`, … */
  subtype: string;
  is_error?: boolean;
  api_error_status?: number | null;
  /** e.g. `usage_limit_reached` (2.1.3xx). */
  api_error?: string;
  api_error_type?: string;
  result?: string;
  errors?: string[];
  session_id?: string;
  /** Cumulative for the process (PROTOCOLS.md §2). */
  total_cost_usd?: number;
  /** This turn only. */
  usage?: ClaudeUsage;
  num_turns?: number;
  terminal_reason?: string;
  permission_denials?: { tool_name: string; tool_use_id: string }[];
}

/** A request from Claude Code; `can_use_tool` is the only one this adapter answers with a decision. */
/**
 * Claude Code's report of the account's unified rate limits (2.1.3xx, subscription logins): sent when the API's
 * `anthropic-ratelimit-unified-*` headers change, e.g. a warning threshold or a rejected request. `resetsAt` values
 * are epoch seconds. API-key logins get no such headers and so no event.
 */
export interface ClaudeRateLimitEvent {
  type: 'rate_limit_event';
  rate_limit_info: ClaudeRateLimitInfo;
  session_id?: string;
  uuid?: string;
}

export interface ClaudeRateLimitInfo {
  /** `allowed`, `allowed_warning` or `rejected`. */
  status: string;
  resetsAt?: number | null;
  /** The limit that applies: `five_hour`, `seven_day`, `seven_day_opus`, `overage`, … */
  rateLimitType?: string | null;
  /** 0–1. */
  utilization?: number;
  isUsingOverage?: boolean;
  surpassedThreshold?: number;
  overageStatus?: string;
  overageResetsAt?: number;
  unifiedWindows?: Record<string, { utilization?: number; resetsAt?: number | null; status?: string; surpassedThreshold?: number }>;
}

export interface ClaudeControlRequest {
  type: 'control_request';
  request_id: string;
  request: ClaudeCanUseToolRequest | { subtype: string; [key: string]: unknown };
}

export interface ClaudeCanUseToolRequest {
  subtype: 'can_use_tool';
  tool_name: string;
  display_name?: string;
  input: Record<string, unknown>;
  description?: string;
  permission_suggestions?: ClaudePermissionUpdate[];
  blocked_path?: string;
  tool_use_id?: string;
}

/** A permission rule change Claude Code suggests with a request (and accepts back in an allow). */
export interface ClaudePermissionUpdate {
  type: string;
  rules?: { toolName: string; ruleContent?: string }[];
  behavior?: string;
  mode?: string;
  directories?: string[];
  destination?: string;
}

export interface ClaudeControlResponse {
  type: 'control_response';
  response: { subtype: 'success' | 'error'; request_id: string; response?: unknown; error?: string };
}

/** Claude Code withdrew one of its control requests (e.g. after an interrupt). */
export interface ClaudeControlCancelRequest {
  type: 'control_cancel_request';
  request_id: string;
}

/** The answer to a `can_use_tool` request. */
export type ClaudePermissionResult =
  | { behavior: 'allow'; updatedInput: Record<string, unknown>; updatedPermissions?: ClaudePermissionUpdate[] }
  | { behavior: 'deny'; message: string; interrupt?: boolean };

/** Messages this adapter writes to Claude Code's stdin. */
export type ClaudeInputMessage =
  | { type: 'user'; message: { role: 'user'; content: string } }
  | { type: 'control_request'; request_id: string; request: { subtype: 'interrupt' } }
  | { type: 'control_response'; response: { subtype: 'success'; request_id: string; response: ClaudePermissionResult } }
  | { type: 'control_response'; response: { subtype: 'error'; request_id: string; error: string } };

/** Narrows a parsed stdout line to a message with a known `type`; anything else is a protocol surprise. */
export function isClaudeOutputMessage(value: unknown): value is ClaudeOutputMessage {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return (
    type === 'system' ||
    type === 'assistant' ||
    type === 'user' ||
    type === 'stream_event' ||
    type === 'result' ||
    type === 'rate_limit_event' ||
    type === 'control_request' ||
    type === 'control_response' ||
    type === 'control_cancel_request'
  );
}

export function isCanUseToolRequest(request: ClaudeControlRequest['request']): request is ClaudeCanUseToolRequest {
  return request.subtype === 'can_use_tool' && typeof (request as ClaudeCanUseToolRequest).tool_name === 'string';
}
