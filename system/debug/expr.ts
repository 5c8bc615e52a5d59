// Breakpoint conditions: a small expression language, parsed once and evaluated at each hit.
//
//   rdi == 3 && mem32(rsp + 8) != 0        registers, numbers (decimal, 0x…), memory reads
//   sandbox == "netstack" || op == "CONN_OUT"   strings, and whatever names the hit provides
//   (arg1 & 0xff) >= 16 && !frozen          bit operators, comparisons, not, parentheses
//
// Values are 64-bit unsigned integers (BigInt), strings or booleans; a name the hit does not
// provide is an error at evaluation, reported with the breakpoint, never a silent false.

export type Value = bigint | string | boolean;

export interface EvalContext {
  /** A name's value at this hit (registers, syscall arguments, event fields…), or undefined. */
  lookup(name: string): Value | undefined;
  /** Reads `size` bytes of guest memory as an unsigned little-endian integer, or undefined. */
  read(address: bigint, size: number): bigint | undefined;
}

export class ExprError extends Error {
  readonly code = 'DEBUG_BAD_EXPRESSION';
}

type Node =
  | { k: 'lit'; v: Value }
  | { k: 'name'; n: string }
  | { k: 'un'; op: string; a: Node }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'call'; f: string; args: Node[] };

const TOKEN = /\s*(0x[0-9a-fA-F]+|\d+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_$][\w.$]*|==|!=|<=|>=|&&|\|\||<<|>>|[-+*/%&|^~!<>(),])/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < src.length) {
    if (/^\s*$/.test(src.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(src);
    if (!m) throw new ExprError(`cannot read the condition at '${src.slice(at).trim()}'`);
    out.push(m[1]!);
    at = TOKEN.lastIndex;
  }
  return out;
}

// Binary operators by precedence level, lowest first.
const LEVELS = [['||'], ['&&'], ['==', '!=', '<', '<=', '>', '>='], ['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];
const READS: Record<string, number> = { mem8: 1, mem16: 2, mem32: 4, mem64: 8 };

export class Expr {
  private constructor(
    readonly source: string,
    private readonly root: Node,
  ) {}

  static parse(source: string): Expr {
    const toks = tokenize(source);
    let i = 0;
    const peek = () => toks[i];
    const take = (t?: string) => {
      const x = toks[i];
      if (x === undefined || (t !== undefined && x !== t)) throw new ExprError(`expected ${t ?? 'more'} ${x === undefined ? 'at the end' : `before '${x}'`} in '${source}'`);
      i++;
      return x;
    };
    const binary = (level: number): Node => {
      if (level === LEVELS.length) return unary();
      let a = binary(level + 1);
      while (peek() !== undefined && LEVELS[level]!.includes(peek()!)) {
        const op = take();
        a = { k: 'bin', op, a, b: binary(level + 1) };
      }
      return a;
    };
    const unary = (): Node => {
      const t = peek();
      if (t === '!' || t === '-' || t === '~') {
        take();
        return { k: 'un', op: t, a: unary() };
      }
      return primary();
    };
    const primary = (): Node => {
      const t = take();
      if (t === '(') {
        const e = binary(0);
        take(')');
        return e;
      }
      if (/^(0x[0-9a-f]+|\d+)$/i.test(t)) return { k: 'lit', v: BigInt(t) };
      if (t[0] === '"' || t[0] === "'") return { k: 'lit', v: JSON.parse('"' + t.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"') + '"') as string };
      if (t === 'true' || t === 'false') return { k: 'lit', v: t === 'true' };
      if (/^[A-Za-z_$]/.test(t)) {
        if (peek() === '(') {
          take('(');
          const args: Node[] = [];
          if (peek() !== ')') {
            args.push(binary(0));
            while (peek() === ',') {
              take(',');
              args.push(binary(0));
            }
          }
          take(')');
          if (!(t in READS) || args.length !== 1) throw new ExprError(`unknown function ${t}/${args.length} in '${source}' (have mem8, mem16, mem32, mem64)`);
          return { k: 'call', f: t, args };
        }
        return { k: 'name', n: t };
      }
      throw new ExprError(`unexpected '${t}' in '${source}'`);
    };
    const root = binary(0);
    if (i !== toks.length) throw new ExprError(`unexpected '${toks[i]}' in '${source}'`);
    return new Expr(source, root);
  }

  evaluate(ctx: EvalContext): Value {
    return this.eval(this.root, ctx);
  }

  /** The condition as a truth value: non-zero numbers and non-empty strings are true. */
  test(ctx: EvalContext): boolean {
    return truthy(this.evaluate(ctx));
  }

  private eval(n: Node, ctx: EvalContext): Value {
    switch (n.k) {
      case 'lit':
        return n.v;
      case 'name': {
        const v = ctx.lookup(n.n);
        if (v === undefined) throw new ExprError(`'${n.n}' is not known at this stop`);
        return v;
      }
      case 'call': {
        const address = num(this.eval(n.args[0]!, ctx), n.f);
        const v = ctx.read(address, READS[n.f]!);
        if (v === undefined) throw new ExprError(`${n.f}(0x${address.toString(16)}): not mapped`);
        return v;
      }
      case 'un': {
        const a = this.eval(n.a, ctx);
        if (n.op === '!') return !truthy(a);
        if (n.op === '-') return BigInt.asUintN(64, -num(a, '-'));
        return BigInt.asUintN(64, ~num(a, '~'));
      }
      case 'bin': {
        if (n.op === '&&') return truthy(this.eval(n.a, ctx)) && truthy(this.eval(n.b, ctx));
        if (n.op === '||') return truthy(this.eval(n.a, ctx)) || truthy(this.eval(n.b, ctx));
        const a = this.eval(n.a, ctx);
        const b = this.eval(n.b, ctx);
        if (n.op === '==') return equal(a, b);
        if (n.op === '!=') return !equal(a, b);
        const x = num(a, n.op);
        const y = num(b, n.op);
        switch (n.op) {
          case '<': return x < y;
          case '<=': return x <= y;
          case '>': return x > y;
          case '>=': return x >= y;
          case '|': return x | y;
          case '^': return x ^ y;
          case '&': return x & y;
          case '<<': return BigInt.asUintN(64, x << y);
          case '>>': return x >> y;
          case '+': return BigInt.asUintN(64, x + y);
          case '-': return BigInt.asUintN(64, x - y);
          case '*': return BigInt.asUintN(64, x * y);
          case '/': if (y === 0n) throw new ExprError('division by zero'); return x / y;
          case '%': if (y === 0n) throw new ExprError('division by zero'); return x % y;
        }
        throw new ExprError(`unknown operator ${n.op}`);
      }
    }
  }
}

function truthy(v: Value): boolean {
  return typeof v === 'bigint' ? v !== 0n : typeof v === 'string' ? v.length > 0 : v;
}

function num(v: Value, op: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  throw new ExprError(`'${op}' needs a number, got the string "${v}"`);
}

function equal(a: Value, b: Value): boolean {
  if (typeof a === 'string' || typeof b === 'string') return String(a) === String(b);
  return num(a, '==') === num(b, '==');
}
