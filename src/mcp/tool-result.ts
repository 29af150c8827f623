// The shape of a tool's answer to the delegating agent, shared by the tool tables.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * A tool result: text for the agent, and the same facts as JSON. Some clients (Codex) show the model only the JSON,
 * so it carries `message` too: what happened and what to do next.
 */
export function result(text: string, structuredContent: Record<string, unknown>, message = text.split('\n\n', 1)[0]): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: { message, ...structuredContent } };
}

/** The first line of a prompt, cut to `max` characters. */
export function firstLine(text: string, max = 100): string {
  const line = text.split('\n', 1)[0].trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
