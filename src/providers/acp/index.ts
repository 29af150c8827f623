export { AcpProvider, ACP_AGENTS_SETTING, ACP_RESUME_PROMPT, type AcpAgentConfig, type AcpProviderOptions } from './provider';
// The connection and the run (and with them the ACP SDK) load on the first ACP run: import them from their modules.
export type { AcpAgentLaunch } from './connection';
export type { AcpTurnEnd, AcpRunPlan } from './run';
export { createUnifiedDiff } from '../stdio/unified-diff';
