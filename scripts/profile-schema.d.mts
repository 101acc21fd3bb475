export const SCHEMA_FILE: string;
export const README_FILE: string;
export const SCHEMA_LINE: string;
export function currentSchema(): Record<string, unknown>;
export function schemaText(schema: unknown): string;
export function fieldTable(schema: unknown, kind: string): string;
export function withFieldTables(readme: string, schema: unknown): string;
