export const REFERENCE_FILE: string;
export function commandTable(): Promise<[string, unknown][]>;
export function helpText(id: string): string;
export function renderReference(): Promise<string>;
