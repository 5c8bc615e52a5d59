// The capstone-js package ships no type declarations; disasm.ts states the shape it uses.
declare module '@alexaltea/capstone-js' {
  const factory: () => Promise<unknown>;
  export default factory;
}
