type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null;

/** MySQL's binding strength of the logical operators: OR/|| loosest, then XOR, then AND/&&. */
const LEVEL: Record<string, number> = { OR: 0, '||': 0, XOR: 1, AND: 2, '&&': 2 };
const logical = (n: unknown): n is Node =>
  isNode(n) && n['type'] === 'binary_expr' && LEVEL[String(n['operator']).toUpperCase()] !== undefined;
const levelOf = (n: unknown): number | undefined =>
  logical(n) && !n['parentheses'] ? LEVEL[String(n['operator']).toUpperCase()] : undefined;

interface Loc {
  start: unknown;
  end: unknown;
}

/** The operands and operators of an unparenthesised chain of logical operators, in source order. */
function flatten(n: unknown, operands: unknown[], operators: string[], root = false): void {
  if (!(root ? logical(n) : levelOf(n) !== undefined)) {
    operands.push(n);
    return;
  }
  const b = n as Node;
  flatten(b['left'], operands, operators);
  operators.push(String(b['operator']));
  flatten(b['right'], operands, operators);
}

function build(operands: unknown[], operators: string[], level: number): unknown {
  if (operands.length === 1) return operands[0];
  if (level > 2) throw new Error('unreachable: an operator of no level');
  const parts: { operands: unknown[]; operators: string[] }[] = [{ operands: [operands[0]], operators: [] }];
  const joins: string[] = [];
  operators.forEach((op, i) => {
    if (LEVEL[op.toUpperCase()] === level) {
      joins.push(op);
      parts.push({ operands: [operands[i + 1]], operators: [] });
    } else {
      const part = parts[parts.length - 1]!;
      part.operators.push(op);
      part.operands.push(operands[i + 1]);
    }
  });
  const built = parts.map((p) => build(p.operands, p.operators, level + 1));
  return built.reduce((left, right, i) => {
    const l = isNode(left) ? (left['loc'] as Loc | undefined) : undefined;
    const r = isNode(right) ? (right['loc'] as Loc | undefined) : undefined;
    const node: Node = { type: 'binary_expr', operator: joins[i - 1], left, right };
    if (l && r) node['loc'] = { start: l.start, end: r.end };
    return node;
  });
}

/**
 * Rebuilds every unparenthesised chain of AND / XOR / OR in the AST with MySQL's precedence.
 * node-sql-parser (5.4) reads them left to right at one level — `a OR b AND c` as
 * `(a OR b) AND c` — and a shard-key predicate under such an OR would pin the statement to one
 * shard although MySQL reads it as `a OR (b AND c)`. Mutates and returns the AST.
 */
export function fixLogicalPrecedence<T>(ast: T): T {
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) node[i] = visit(node[i]);
      return node;
    }
    if (!isNode(node)) return node;
    if (logical(node)) {
      const operands: unknown[] = [];
      const operators: string[] = [];
      flatten(node, operands, operators, true);
      const rebuilt = build(operands.map(visit), operators, 0) as Node;
      if (node['loc']) rebuilt['loc'] = node['loc'];
      if (node['parentheses']) rebuilt['parentheses'] = node['parentheses'];
      return rebuilt;
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'loc' && typeof v === 'object' && v !== null) (node as Node)[k] = visit(v);
    return node;
  };
  return visit(ast) as T;
}
