import type { ProviderId } from '../core/task-state';
import type { ProviderCapabilities } from '../core/ports';

/** A provider family: every `acp:<name>` agent shares the `acp` row. */
export type ProviderFamily = 'codex' | 'claude-cli' | 'copilot' | 'acp';

/** One row of the capability table: what the adapter can do, and how it learns about rate limits. */
export interface ProviderCapabilityRow {
  displayName: string;
  capabilities: ProviderCapabilities;
  /** How a 429 or usage limit reaches the adapter (shown in the UI next to the rate-limit flag). */
  rateLimitSignal: string;
  /** What the CLI cannot do, in the words the UI shows. */
  limitations: readonly string[];
}

/**
 * Every provider's capabilities in one table (DESIGN §4: capabilities are data). Pause kinds follow PROTOCOLS.md
 * "Pause kinds mapped to internal kinds". Stdio agents survive a window reload under their keeper (DESIGN §5): the next
 * window reattaches and asks a pending approval again; only when the keeper is gone do they resume their saved
 * session, and then a pending approval is lost.
 */
export const PROVIDER_CAPABILITIES: Readonly<Record<ProviderFamily, ProviderCapabilityRow>> = {
  codex: {
    displayName: 'Codex',
    capabilities: {
      pauseKinds: ['command_approval', 'file_approval', 'user_input', 'elicitation', 'dynamic_tool'],
      resumeAfterCrash: true,
      survivesReload: true,
      followUps: true,
      sessionsPerProcess: 'many',
      reportsCost: false,
      rateLimitSignals: true,
      nativeReview: true,
    },
    rateLimitSignal: 'error notification with codexErrorInfo (HTTP 429, usageLimitExceeded); account/rateLimits/updated snapshots with each window\'s resetsAt',
    limitations: ['Questions (request_user_input) only in plan mode (planner tasks)', 'No cost, only tokens'],
  },
  'claude-cli': {
    displayName: 'Claude Code',
    capabilities: {
      pauseKinds: ['command_approval', 'file_approval', 'user_input'],
      resumeAfterCrash: true,
      survivesReload: true,
      followUps: true,
      sessionsPerProcess: 'one',
      reportsCost: true,
      rateLimitSignals: true,
      nativeReview: false,
    },
    rateLimitSignal: 'system/api_retry with error_status 429, then a result with is_error and api_error_status 429; rate_limit_event with resetsAt (subscription logins)',
    limitations: [
      'A session is saved a few seconds after it starts; a run that stops earlier cannot be resumed',
      'A pending approval is lost if its keeper died (the session is resumed with --resume instead)',
      'No MCP elicitations or client-defined tools',
    ],
  },
  copilot: {
    displayName: 'GitHub Copilot CLI',
    capabilities: {
      pauseKinds: ['command_approval', 'file_approval'],
      resumeAfterCrash: true,
      survivesReload: true,
      followUps: true,
      sessionsPerProcess: 'one',
      reportsCost: false,
      rateLimitSignals: true,
      nativeReview: false,
    },
    rateLimitSignal: 'only as agent text ("Failed to get response from the AI model; retried … 429") with no usage',
    limitations: [
      'No questions to you: Copilot offers no ask-user tool over ACP',
      'Denying a tool call ends the turn; a deny message does not reach the model',
      'A pending approval is lost if its keeper died (the session is loaded with session/load instead)',
      'No cost, only tokens',
    ],
  },
  acp: {
    displayName: 'ACP agent',
    capabilities: {
      pauseKinds: ['command_approval', 'file_approval'],
      resumeAfterCrash: true,
      survivesReload: true,
      followUps: true,
      sessionsPerProcess: 'one',
      reportsCost: false,
      rateLimitSignals: false,
      nativeReview: false,
    },
    rateLimitSignal: 'none in the protocol',
    limitations: ['Resume and follow-ups need an agent that supports session/load', 'Approvals come as session/request_permission only'],
  },
};

/** The family a provider id belongs to (`acp:<name>` → `acp`), or undefined for a provider this table does not know. */
export function providerFamily(id: ProviderId): ProviderFamily | undefined {
  if (id.startsWith('acp:')) return 'acp';
  return id === 'codex' || id === 'claude-cli' || id === 'copilot' ? id : undefined;
}

/** The capability row of a provider id, if it is one of ours. */
export function capabilityRow(id: ProviderId): ProviderCapabilityRow | undefined {
  const family = providerFamily(id);
  return family ? PROVIDER_CAPABILITIES[family] : undefined;
}
