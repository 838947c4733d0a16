"""The My Number (個人番号): 12 digits, the last a check digit (総務省令 check-digit rule)."""


def my_number_check_digit(first_eleven: str) -> int:
    # P_n counts from the right of the eleven digits; Q_n is n+1 for n<=6, else n-5.
    total = sum(int(first_eleven[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def my_number_is_valid(number: str) -> bool:
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        return False
    return my_number_check_digit(number[:11]) == int(number[11])
