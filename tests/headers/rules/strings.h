/* Rule: `const char *` is an input string of `strlen(x) + 1` bytes (the
   lifted spec says so once, in `default(string)`). */
typedef int acc_status;
#define ACC_SUCCESS 0
typedef struct acc_program_st *acc_program;

acc_program accCreateProgram(const char *source, acc_status *status);
acc_status accBuildProgram(acc_program program, const char *options);
const char *accGetErrorString(acc_status status);
