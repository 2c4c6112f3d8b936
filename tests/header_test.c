/* Compiled once per public header: the header must stand alone. */
#include VG_TEST_HEADER

int main(void)
{
    return 0;
}
