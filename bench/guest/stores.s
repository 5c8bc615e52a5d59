# Store-heavy loop for the `throughput` benchmark: one 8-byte store per 5 instructions, walking a
# 4 KiB window just below the entry rsp (the stack is the one writable mapping a fresh sandbox
# has). Stores take Unicorn 2.0.1's slow path, so this is closer to real compiled code.
# ITERATIONS comes from `as --defsym`. Instructions executed: 3 + 5*ITERATIONS + 3.
.intel_syntax noprefix
.text
    lea rsi, [rsp - 4096]
    mov ebx, ITERATIONS
    xor ecx, ecx
1:  mov [rsi + rcx*8], rax
    inc ecx
    and ecx, 511            # stay inside the 512 quadwords of the window
    dec rbx
    jnz 1b
    mov eax, 4              # HIC_SYS_EXIT
    xor edi, edi
    syscall
