import type { ProviderCapabilities } from '../core/ports';
import { capabilityRow } from '../providers/capabilities';

const PAUSE_LABELS: Record<string, string> = {
  command_approval: 'command approvals',
  file_approval: 'file approvals',
  user_input: 'questions',
  elicitation: 'MCP elicitations',
  dynamic_tool: 'tool calls',
};

/** One line saying what a provider can do, for the provider picker and tooltips. */
export function capabilitySummary(capabilities: ProviderCapabilities): string {
  const parts = capabilities.pauseKinds.map((kind) => PAUSE_LABELS[kind] ?? kind);
  if (capabilities.survivesReload) parts.push('survives reload');
  else if (capabilities.resumeAfterCrash) parts.push('resume');
  if (capabilities.followUps) parts.push('follow-ups');
  if (capabilities.reportsCost) parts.push('cost');
  if (capabilities.nativeReview) parts.push('own review mode');
  return parts.join(', ') || 'plain runs';
}

/** What the provider's CLI cannot do (from the capability table), or nothing for unknown providers. */
export function providerLimitations(providerId: string): readonly string[] {
  return capabilityRow(providerId)?.limitations ?? [];
}
