/* The engines, one line each: X(name) registers `const fsci_engine fsci_engine_<name>`,
 * defined in src/<name>/engine.c. Order is the order of `fastsci --help`, the demo
 * report and `fastsci.engines()`. doc/ADDING_AN_ENGINE.md is the recipe. */
#define FSCI_ENGINE_LIST(X) X(ptycho) X(proton) X(pstm) X(n2v2) X(qdot)
