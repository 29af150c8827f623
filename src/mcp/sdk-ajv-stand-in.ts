// Stands in for the MCP SDK's validation/ajv-provider.js in dist/mcp-server.js (scripts/bundles.mjs redirects it here).
// The SDK's Server imports Ajv only for the default of its jsonSchemaValidator option, and createServer always passes
// its own; if anything did reach for the default, it gets the same validator.
export { ToolInputValidator as AjvJsonSchemaValidator } from './tool-input';
