export { AcpProvider, ACP_AGENTS_SETTING, ACP_RESUME_PROMPT, type AcpAgentConfig, type AcpProviderOptions } from './provider';
export { AcpAgentProcess, acpStreamOver, spawnAcpAgent, type AcpAgentLaunch } from './connection';
export { AcpRun, defaultTurnOutcome, type AcpTurnEnd, type AcpRunPlan } from './run';
export { createUnifiedDiff } from '../stdio/unified-diff';
