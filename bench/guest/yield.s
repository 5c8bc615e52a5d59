# Yield loop for the `switch` benchmark: ITERATIONS calls of yield (nr 2), each of which stops the
# engine so the scheduler can run the other sandbox, then exit(0). ITERATIONS comes from
# `as --defsym`. Instructions executed: 1 + 4*ITERATIONS + 3.
.intel_syntax noprefix
.text
    mov ebx, ITERATIONS
1:  mov eax, 2              # HIC_SYS_YIELD
    syscall
    dec rbx
    jnz 1b
    mov eax, 4              # HIC_SYS_EXIT
    xor edi, edi
    syscall
