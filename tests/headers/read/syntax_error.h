/* Two errors libclang reports without a fatal one. */
typedef int good_t;

int broken(int a,, int b);
struct s { int x } ;
unknown_t uses_unknown(void);
