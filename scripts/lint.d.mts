export declare const LAYERS: string[][];
/** Every problem as "file:line: rule". */
export declare function lint(root: string): Promise<string[]>;
