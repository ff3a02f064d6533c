
BoutputJ(§u›¿–ƒj@N9@Jw¿ø7Ã<j¡>f¿@zXr>ÓÃR@