export declare const LAYERS: string[][];
/** Where a raw timer may stand (a path, or a folder ending in /), and why. */
export declare const RAW_TIMERS_ALLOWED: Record<string, string>;
/** Every problem as "file:line: rule". */
export declare function lint(root: string): Promise<string[]>;
